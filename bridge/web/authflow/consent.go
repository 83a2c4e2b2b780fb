package authflow

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

type scopeLine struct{ Title, Detail string }

type consentData struct {
	web.Page
	Device                      bool
	CSRF, RequestID, ClientName string
	// Hold is the consent hold of a new sign-in waiting here without a session ("": the
	// browser's session consents).
	Hold   string
	Scopes []scopeLine
	// Member names the member who consents ("Alice Anders (alice)"): the page says who is
	// signed in, and offers to use another account (PathAccount).
	Member string
	// Resources are the resource indicators (RFC 8707) the request named, a device's included
	// (sso.Provider.DeviceLogin): the tokens the member allows are for these services.
	Resources []string
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
	// The app asks for the consent page (prompt=consent, OIDC Core 3.1.2.1): shown, trusted
	// (first-party) app or not. With prompt=none op refuses the request itself (none must be
	// alone).
	if slices.Contains(ar.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	if client.Trusted {
		return false, nil
	}
	given, err := h.Store.Consent(ctx, subject, client.ID)
	if errors.Is(err, sso.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	// A consent given to an earlier registration of the client's id was given to another app
	// (a client removed before d22d306 left its consents; one removed since takes them along).
	if client.PredatesRegistration(given.GrantedAt) {
		return true, nil
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
	ctx := c.Request().Context()
	raw := c.QueryParam("h")
	var m *legacy.Member
	if raw != "" {
		hold, err := h.loadHold(c, ar, raw)
		if hold == nil {
			return err
		}
		// The member who signed in and waits here (read as the consent will read them); a
		// refusal is only shown: the page's POST decides.
		if m, err = h.heldMember(c, ar, client, hold.Subject, false); m == nil {
			return err
		}
	} else {
		sess, err := h.Cookies.Current(c)
		if err != nil || !h.sessionAnswers(ar, sess) {
			return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
		}
		// The page only names the member: the label read on the way here (finish), or by an
		// earlier view, while fresh, else one read. The POST reads the member and decides.
		label, ok := h.labels.get(sess.ID, h.Now())
		if !ok {
			if m, err = h.Member(ctx, sess); err != nil {
				// The login page ends a session whose member may no longer sign in, and asks.
				return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
			}
			label = MemberLabel(m)
			h.labels.put(sess.ID, label, h.Now())
		}
		return h.renderConsent(c, ar, client, "", label)
	}
	return h.renderConsent(c, ar, client, raw, MemberLabel(m))
}

// renderConsent renders the consent page of ar for the member named label (hold: the consent
// hold's value, "" for the browser's session).
func (h *Handler) renderConsent(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, hold, label string) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	var lines []scopeLine
	for _, d := range h.Scopes(client.ID, ar.Scopes) {
		lines = append(lines, scopeLine{d.Title, d.Detail})
	}
	return h.Pages.Render(c, http.StatusOK, "consent", consentData{Page: h.Pages.Base("Allow access"), Device: h.isDeviceRequest(ar),
		CSRF: csrf, RequestID: ar.ID, ClientName: client.Name, Hold: hold, Scopes: lines, Member: label, Resources: ar.Resources})
}

// labelFresh is how long the consent page names a session's member by the label read last
// (memberLabels) before it reads the member again.
const labelFresh = 5 * time.Minute

// maxLabels bounds memberLabels: past it, the labels no longer fresh go, and if that is not
// enough, all of them (each is read again once at most).
const maxLabels = 10000

// memberLabels keeps, per SSO session (its id), the label of its member as read last (on the
// way to the consent page, or by the page), so that the consent page shown again (a reload, the
// back button) does not ask the AMS again only to show a name. It is this process's memory:
// another replica reads the member once. It holds only names, never a decision: the consent's
// POST reads the member and checks the access rule.
type memberLabels struct {
	mu sync.Mutex
	m  map[string]memberLabel
}

type memberLabel struct {
	label string
	at    time.Time
}

// get returns the label of session id read within labelFresh of now.
func (l *memberLabels) get(id string, now time.Time) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[id]
	if !ok || now.Sub(e.at) > labelFresh || now.Before(e.at) {
		return "", false
	}
	return e.label, true
}

// put remembers the label of session id, read at now.
func (l *memberLabels) put(id, label string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]memberLabel)
	}
	if _, ok := l.m[id]; !ok && len(l.m) >= maxLabels {
		for k, e := range l.m {
			if now.Sub(e.at) > labelFresh {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxLabels {
			clear(l.m)
		}
	}
	l.m[id] = memberLabel{label: label, at: now}
}

func (h *Handler) consentSubmit(c echo.Context) error {
	ar, client, err := h.postedRequest(c)
	if ar == nil {
		return err
	}
	if raw := c.FormValue("h"); raw != "" {
		return h.consentHeld(c, ar, client, raw)
	}
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err != nil || !h.sessionAnswers(ar, sess) {
		return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
	}
	// The access rule is checked again here: consent must never be a way around it.
	m, err := h.Member(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			return h.accessDenied(c, ar, client, sess.Subject)
		}
		return h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	if d := h.Access.Decide(ctx, m, sess.Subject, client.ID, h.Now()); !d.Allowed() {
		return h.refused(c, ar, client, sess.Subject, d)
	}
	if c.FormValue("decision") != "allow" {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "consent.denied", Subject: sess.Subject, ClientID: client.ID, IP: c.RealIP()})
		return h.redirectError(c, ar, oidc.ErrAccessDenied().WithDescription("the member did not allow access"))
	}
	if err := h.grantConsent(c, ar, client, sess.Subject); err != nil {
		return err
	}
	return h.complete(c, ar, client, sess, m)
}

// grantConsent stores subject's consent to ar's scopes for client (added to what they allowed
// before).
func (h *Handler) grantConsent(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string) error {
	ctx := c.Request().Context()
	scopes := slices.Clone(ar.Scopes)
	if prev, err := h.Store.Consent(ctx, subject, client.ID); err == nil {
		scopes = append(scopes, prev.Scopes...)
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if err := h.Store.PutConsent(ctx, &store.Consent{Subject: subject, ClientID: client.ID, Scopes: scopes, GrantedAt: h.Now()}); err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "consent.granted", Subject: subject, ClientID: client.ID, IP: c.RealIP(), Detail: fmt.Sprint(scopes)})
	return nil
}

// loadHold finds the consent hold raw names for ar in this browser; on a failure it renders the
// error page and returns nil.
func (h *Handler) loadHold(c echo.Context, ar *sso.AuthRequest, raw string) (*store.MFAChallenge, error) {
	ctx := c.Request().Context()
	var hold *store.MFAChallenge
	err := sso.ErrNotFound
	if len(raw) <= 128 {
		hold, err = h.Store.MFAChallenge(ctx, consentHoldHash(raw))
	}
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("load consent hold: %w", err)
	}
	if err != nil || hold.Kind != kindConsentHold || hold.AuthRequestID != ar.ID {
		return nil, h.RequestStateError(c, ar, nil, sso.ErrNotFound)
	}
	browser, _ := h.Cookies.PeekRequestBrowser(c)
	if subtle.ConstantTimeCompare([]byte(hold.Browser), []byte(browser)) != 1 {
		return nil, h.RequestStateError(c, ar, nil, sso.ErrAuthRequestElsewhere)
	}
	if hold.Passed {
		return nil, h.RequestStateError(c, ar, nil, sso.ErrAuthRequestUsed)
	}
	return hold, nil
}

// heldMember reads the member who signed in and waits at a consent hold (holdForConsent), as
// the consent reads them. When that member may no longer sign in it renders the refusal and
// returns nil: at the consent's POST (decide) the refusal is the decision (accessDenied: the
// audit row, a device's request denied); the page's GET only shows it and writes nothing (a
// reload or a prefetch must not decide), so the decision is the POST's.
func (h *Handler) heldMember(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string, decide bool) (*legacy.Member, error) {
	m, err := h.Member(c.Request().Context(), &sso.Session{Subject: subject})
	switch {
	case err == nil:
		return m, nil
	case !errors.Is(err, sso.ErrAccessDenied):
		return nil, h.Pages.MembershipUnavailable(c, h.Logger, err)
	case decide:
		return nil, h.accessDenied(c, ar, client, subject)
	}
	return nil, h.notAvailable(c, client)
}

// consentHeld is the consent of a new sign-in waiting without a session (holdForConsent): the
// hold is passed once (a second submission, a replayed form, get the already-used page and
// write nothing), then an allowed app gets the sign-in's session written with the request's
// completion, in one transaction; a denied one no session.
func (h *Handler) consentHeld(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, raw string) error {
	ctx := c.Request().Context()
	hold, err := h.loadHold(c, ar, raw)
	if hold == nil {
		return err
	}
	// The member is read again, and the access rule checked again: consent must never be a
	// way around it.
	m, err := h.heldMember(c, ar, client, hold.Subject, true)
	if m == nil {
		return err
	}
	if d := h.Access.Decide(ctx, m, hold.Subject, client.ID, h.Now()); !d.Allowed() {
		return h.refused(c, ar, client, hold.Subject, d)
	}
	var d holdData
	_ = json.Unmarshal(hold.Data, &d)
	var o SignInOptions
	if d.Upstream {
		// A held upstream sign-in whose provider signed the member out meanwhile goes no further.
		o.Upstream, o.HeldAt = &store.UpstreamSession{}, store.HeldSignIn(hold.IDHash)
		if err := h.HeldLive(ctx, o.HeldAt); err != nil {
			return h.EndedOr(c, err)
		}
	}
	if err := h.Store.PassMFAChallenge(ctx, hold.IDHash, hold.Browser, h.Now()); err != nil {
		switch {
		case errors.Is(err, sso.ErrAuthRequestUsed), errors.Is(err, sso.ErrAuthRequestElsewhere), errors.Is(err, sso.ErrNotFound):
			return h.RequestStateError(c, ar, nil, err)
		}
		return fmt.Errorf("pass consent hold: %w", err)
	}
	if c.FormValue("decision") != "allow" {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "consent.denied", Subject: hold.Subject, ClientID: client.ID, IP: c.RealIP()})
		return h.redirectError(c, ar, oidc.ErrAccessDenied().WithDescription("the member did not allow access"))
	}
	if err := h.grantConsent(c, ar, client, hold.Subject); err != nil {
		return err
	}
	o.AuthTime = hold.CreatedAt // when the member signed in, not when they allowed the app
	if _, err := h.startFreshSessionWith(c, m, hold.AMR,
		&store.AuditEvent{Event: "login.success", Login: m.Login, ClientID: client.ID, IP: c.RealIP(), Detail: d.Detail}, o); err != nil {
		return err
	}
	sess := fresh(c).sess
	return h.EndedOr(c, h.complete(c, ar, client, sess, m))
}
