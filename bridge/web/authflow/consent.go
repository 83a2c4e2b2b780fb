package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/sso"
)

type scopeLine struct{ Title, Detail string }

type consentData struct {
	web.Page
	Device                      bool
	CSRF, RequestID, ClientName string
	Scopes                      []scopeLine
}

// isDeviceRequest reports whether ar is the internal auth request of a device approval.
func (h *Handler) isDeviceRequest(ar *sso.AuthRequest) bool {
	return ar.RedirectURI == h.Issuer+PathDeviceDone
}

// needsConsent reports whether the member must be asked for these scopes.
func (h *Handler) needsConsent(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string) (bool, error) {
	// A device approval always asks, naming the app, even for first-party apps and existing
	// sessions: otherwise a phished user code is approved in one click (RFC 8628 5.4).
	if h.isDeviceRequest(ar) {
		return true, nil
	}
	if client.Trusted {
		return false, nil
	}
	if slices.Contains(ar.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	given, err := h.Store.Consent(ctx, subject, client.ID)
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

func (h *Handler) consentPage(c echo.Context) error {
	ar, client, err := h.PendingRequest(c, c.QueryParam("id"))
	if ar == nil {
		return err
	}
	if sess, err := h.Cookies.Current(c); err != nil || !h.sessionAnswers(ar, sess) {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
	}
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	var lines []scopeLine
	for _, d := range h.Scopes(client.ID, ar.Scopes) {
		lines = append(lines, scopeLine{d.Title, d.Detail})
	}
	return h.Pages.Render(c, http.StatusOK, "consent", consentData{Page: h.Pages.Base("Allow access"), Device: h.isDeviceRequest(ar),
		CSRF: csrf, RequestID: ar.ID, ClientName: client.Name, Scopes: lines})
}

func (h *Handler) consentSubmit(c echo.Context) error {
	ar, client, err := h.postedRequest(c)
	if ar == nil {
		return err
	}
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err != nil || !h.sessionAnswers(ar, sess) {
		return c.Redirect(http.StatusSeeOther, "/login?id="+ar.ID)
	}
	// The access rule is checked again here: consent must never be a way around it.
	m, err := h.Member(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			return h.accessDenied(c, ar, client, sess.Subject)
		}
		return h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	if !h.Access.Decide(ctx, m, sess.Subject, client.ID, h.Now()).Allowed() {
		return h.accessDenied(c, ar, client, sess.Subject)
	}
	if c.FormValue("decision") != "allow" {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "consent.denied", Subject: sess.Subject, ClientID: client.ID, IP: c.RealIP()})
		return h.redirectError(c, ar, oidc.ErrAccessDenied().WithDescription("the member did not allow access"))
	}
	scopes := slices.Clone(ar.Scopes)
	if prev, err := h.Store.Consent(ctx, sess.Subject, client.ID); err == nil {
		scopes = append(scopes, prev.Scopes...)
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if err := h.Store.PutConsent(ctx, &store.Consent{Subject: sess.Subject, ClientID: client.ID, Scopes: scopes, GrantedAt: h.Now()}); err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "consent.granted", Subject: sess.Subject, ClientID: client.ID, IP: c.RealIP(), Detail: fmt.Sprint(scopes)})
	return h.complete(c, ar, client, sess, m)
}
