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

// scopeText describes scopes in plain words for the consent page.
var scopeText = map[string][2]string{
	"openid":         {"Your identity", "A private identifier for your account, so the app recognises you."},
	"profile":        {"Your name and username", "Your full name, given and family name and username."},
	"email":          {"Your e-mail address", "The e-mail address on your member record."},
	"phone":          {"Your phone number", "The phone number on your member record."},
	"address":        {"Your postal address", "The address on your member record."},
	"offline_access": {"Stay signed in", "The app can keep access while you are away, until you sign out or withdraw it."},
	ScopeMembership:  {"Your membership", "Member number, membership type and status, join and paid-through dates."},
	ScopeRoles:       {"Your roles", "The roles you hold in the association that this app may see."},
}

type scopeLine struct{ Title, Detail string }

type consentData struct {
	pageData
	CSRF, RequestID, ClientName string
	Scopes                      []scopeLine
}

// needsConsent reports whether the member must be asked for these scopes.
func (s *Server) needsConsent(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string) (bool, error) {
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
	if _, err := s.currentSession(c); err != nil {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
	}
	csrf, err := s.csrfToken(c)
	if err != nil {
		return err
	}
	var lines []scopeLine
	for _, sc := range ar.Scopes {
		if t, ok := scopeText[sc]; ok {
			lines = append(lines, scopeLine{t[0], t[1]})
		} else {
			lines = append(lines, scopeLine{sc, "Information this app asks for under the name “" + sc + "”."})
		}
	}
	return s.render(c, http.StatusOK, "consent", consentData{pageData: s.base("Allow access"), CSRF: csrf, RequestID: ar.ID, ClientName: client.Name, Scopes: lines})
}

func (s *Server) consentSubmit(c echo.Context) error {
	if err := s.checkCSRF(c); err != nil {
		return s.csrfFailed(c)
	}
	ar, client, err := s.pendingRequest(c, c.FormValue("id"))
	if ar == nil {
		return err
	}
	ctx := c.Request().Context()
	sess, err := s.currentSession(c)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
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
