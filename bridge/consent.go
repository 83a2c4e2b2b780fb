package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

type scopeLine struct{ Title, Detail string }

type consentData struct {
	pageData
	Device                      bool
	CSRF, RequestID, ClientName string
	Scopes                      []scopeLine
}

// isDeviceRequest reports whether ar is the internal auth request of a device approval.
func (s *Server) isDeviceRequest(ar *sso.AuthRequest) bool {
	return ar.RedirectURI == s.cfg.Issuer+PathDeviceDone
}

// needsConsent reports whether the member must be asked for these scopes.
func (s *Server) needsConsent(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string) (bool, error) {
	// A device approval always asks, naming the app, even for first-party apps and existing
	// sessions: otherwise a phished user code is approved in one click (RFC 8628 5.4).
	if s.isDeviceRequest(ar) {
		return true, nil
	}
	if client.Trusted {
		return false, nil
	}
	if slices.Contains(ar.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	given, err := s.store.Consent(ctx, subject, client.ID)
	if errors.Is(err, sso.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	for _, sc := range ar.Scopes {
		if !slices.Contains(given.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) consentPage(c echo.Context) error {
	ar, client, err := s.pendingRequest(c, c.QueryParam("id"))
	if ar == nil {
		return err
	}
	if sess, err := s.cookies.Current(c); err != nil || !s.sessionAnswers(ar, sess) {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
	}
	csrf, err := s.cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	var lines []scopeLine
	for _, d := range s.policy.DescribeScopes(client.ID, ar.Scopes) {
		lines = append(lines, scopeLine{d.Title, d.Detail})
	}
	return s.render(c, http.StatusOK, "consent", consentData{pageData: s.base("Allow access"), Device: s.isDeviceRequest(ar),
		CSRF: csrf, RequestID: ar.ID, ClientName: client.Name, Scopes: lines})
}

func (s *Server) consentSubmit(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	ar, client, err := s.pendingRequest(c, c.FormValue("id"))
	if ar == nil {
		return err
	}
	ctx := c.Request().Context()
	sess, err := s.cookies.Current(c)
	if err != nil || !s.sessionAnswers(ar, sess) {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
	}
	// The access rule is checked again here: consent must never be a way around it.
	m, err := s.sessionMember(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			return s.accessDenied(c, ar, client, sess.Subject)
		}
		return s.amsError(c, err)
	}
	if !s.access.Decide(ctx, m, sess.Subject, client.ID, s.now()).Allowed() {
		return s.accessDenied(c, ar, client, sess.Subject)
	}
	if c.FormValue("decision") != "allow" {
		s.audit(ctx, &store.AuditEvent{Event: "consent.denied", Subject: sess.Subject, ClientID: client.ID, IP: c.RealIP()})
		return s.redirectError(c, ar, oidc.ErrAccessDenied().WithDescription("the member did not allow access"))
	}
	scopes := slices.Clone(ar.Scopes)
	if prev, err := s.store.Consent(ctx, sess.Subject, client.ID); err == nil {
		scopes = append(scopes, prev.Scopes...)
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if err := s.store.PutConsent(ctx, &store.Consent{Subject: sess.Subject, ClientID: client.ID, Scopes: scopes, GrantedAt: s.now()}); err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	s.audit(ctx, &store.AuditEvent{Event: "consent.granted", Subject: sess.Subject, ClientID: client.ID, IP: c.RealIP(), Detail: fmt.Sprint(scopes)})
	return s.complete(c, ar, sess)
}
