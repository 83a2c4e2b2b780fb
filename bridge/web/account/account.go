package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the account pages.
const (
	Path = "/account"
	// PathSignOutAll confirms (GET) and does (POST) "Sign out of all devices".
	PathSignOutAll = "/account/signout-all"
)

// Consents are the member's stored consents.
type Consents interface {
	Consents(ctx context.Context, subject string) ([]*store.Consent, error)
	DeleteConsent(ctx context.Context, subject, clientID string) error
}

// Sessions is what the account page changes in the member's sessions (store.SessionStore).
type Sessions interface {
	// SignOutOfClient takes a client out of every live session of the member and revokes the
	// member's grants there (pending ones included), in one transaction; it returns how many
	// sessions the client was taken out of and how many families it revoked.
	SignOutOfClient(ctx context.Context, subject, clientID string) (left, families int, err error)
}

// Provider is what the account page needs of the OpenID provider.
type Provider interface {
	web.Clients
	// RevokeGrants revokes the member's refresh-token families at a client.
	RevokeGrants(ctx context.Context, subject, clientID string) (int, error)
}

// Handler serves / and /account.
type Handler struct {
	Pages    *web.Renderer
	Cookies  *session.Cookies
	Provider Provider
	Consents Consents
	Sessions Sessions
	// Scopes describes scopes as the consent page does.
	Scopes func(clientID string, scopes []string) []policy.ScopeDescription
	// Member is the member behind a session, when they may still sign in (sso.ErrAccessDenied
	// when not).
	Member func(context.Context, *sso.Session) (*legacy.Member, error)
	// EndSession ends an SSO session and queues its back-channel logouts.
	EndSession func(context.Context, *sso.Session) error
	// AppLogout queues a client's back-channel logout for one session of the member (sess), or
	// for all of them (sess nil); nil: apps are not told (backchannel.Logouts.AppLogout).
	AppLogout func(ctx context.Context, clientID, subject string, sess *sso.Session) error
	// EndAll ends every live session of the member, in every browser, and revokes every grant
	// of theirs (refresh-token families and their access tokens), in one transaction with the
	// back-channel logouts (OpenID and SAML) of every app the ended sessions signed into
	// (store.Deactivation with EndSessions, backchannel.Logouts.Deactivate). It returns what
	// it ended. nil: "Sign out of all devices" is not offered.
	EndAll func(ctx context.Context, subject string) (*EndedAll, error)
	Audit  func(context.Context, *store.AuditEvent)
	// Linked lists the member's linked upstream identities (nil: no upstream providers);
	// Upstreams are the providers an identity can be linked from.
	Linked    func(ctx context.Context, subject string) ([]web.LinkedIdentity, error)
	Upstreams []web.UpstreamButton
	// Launch, when set, lists the apps the member can open from here (the SAML SPs'
	// IdP-initiated sign-in links).
	Launch func(context.Context) []web.AppLink
	// Playground links the playground from the home page.
	Playground bool
	// StepUp, when set, is where a session must go first when it lacks a second factor the
	// member uses ("" when it does not): a sign-in through an upstream provider or the AMS
	// website opens the session before the second factor, and the account page, like every
	// app, waits for it.
	StepUp func(c echo.Context, sess *sso.Session, m *legacy.Member) (string, error)
	// NeedsStepUp says whether StepUp would send the session on, without opening the
	// challenge StepUp opens: a HEAD of the account page asks it instead (set with StepUp).
	NeedsStepUp func(c echo.Context, sess *sso.Session, m *legacy.Member) (bool, error)
	Logger      *slog.Logger
}

// Mount adds the home and account pages. Each page answers HEAD as its GET without the body
// (RFC 9110 9.3.2) and without the GET's writes: a HEAD sets no cookie (session.Cookies),
// ends no session and opens no second-factor challenge (account).
func (h *Handler) Mount(e *echo.Echo) {
	get := []string{http.MethodGet, http.MethodHead}
	e.Match(get, "/", h.home)
	e.Match(get, Path, h.account)
	e.POST(Path, h.action)
	e.Match(get, PathSignOutAll, h.signOutAllPage)
	e.POST(PathSignOutAll, h.signOutAll)
}

// EndedAll is what "Sign out of all devices" ended.
type EndedAll struct {
	// Sessions are the sessions it ended, this browser's among them.
	Sessions []*sso.Session
	// TokenApps are the client ids at which the member held a live refresh-token family when
	// it began (all of the member's grants are revoked, these included): what the result page
	// names, read before the transaction.
	TokenApps []string
}

type homeData struct {
	web.Page
	Playground bool
	SignedIn   bool
}

func (h *Handler) home(c echo.Context) error {
	_, err := h.Cookies.Current(c)
	return h.Pages.Render(c, http.StatusOK, "home", homeData{Page: h.Pages.Base("Sign-in service"), Playground: h.Playground, SignedIn: err == nil})
}

type accountApp struct{ ID, Name string }

type accountConsent struct {
	ID, Name string
	Scopes   []string
}

type accountData struct {
	web.Page
	CSRF, Name, Login, Email, MemberID, SignedInAt, Method, Notice string
	Apps                                                           []accountApp
	Consents                                                       []accountConsent
	Linked                                                         []web.LinkedIdentity
	Upstreams                                                      []web.UpstreamButton
	Launch                                                         []web.AppLink
	// SignOutAll offers "Sign out of all devices".
	SignOutAll bool
	// AllDevices, when set, makes the page the confirmation or the result of "Sign out of all
	// devices" instead.
	AllDevices *allDevicesData
}

// allDevicesData is the confirmation (Done false) or the result of "Sign out of all devices".
type allDevicesData struct {
	Done bool
	// Sessions are the sessions ended, TokenApps the apps whose tokens were revoked (names).
	Sessions  []endedSession
	TokenApps []string
}

// endedSession is one ended session as the result page lists it.
type endedSession struct {
	SignedInAt, Method string
	ThisBrowser        bool
	Apps               []string
}

// clientName is the client's name, or its id when it has none (no longer registered).
func (h *Handler) clientName(ctx context.Context, id string) string {
	if name := web.ClientName(ctx, h.Provider, id); name != "" {
		return name
	}
	return id
}

// account shows members who they are, as the bridge sees them, the apps they are signed into
// and the apps they consented to, with sign-out per app or everywhere and consent withdrawal.
func (h *Handler) account(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if errors.Is(err, sso.ErrNotFound) {
		return h.Pages.Error(c, http.StatusUnauthorized, "You are not signed in",
			"Open one of the association's apps or the member website to sign in.", "")
	}
	if err != nil {
		return err
	}
	m, err := h.Member(ctx, sess)
	if err != nil {
		if errors.Is(err, sso.ErrAccessDenied) {
			// A HEAD is told what the GET would say; the GET ends the session.
			if c.Request().Method != http.MethodHead {
				if err := h.EndSession(ctx, sess); err != nil {
					return err
				}
			}
			return h.Pages.Error(c, http.StatusForbidden, "Your account cannot be used", "Your membership account can no longer sign in. Please contact the association.", "")
		}
		return h.membershipUnavailable(c, err)
	}
	if c.Request().Method == http.MethodHead {
		if h.NeedsStepUp != nil {
			need, err := h.NeedsStepUp(c, sess, m)
			if err != nil {
				return err
			}
			if need {
				// The GET answers 303 to the challenge it opens: a Location only that write
				// makes, which a HEAD must not do. A 303 without it left a HEAD-following
				// client with a redirect to nowhere (RFC 9110 9.3.2, 15.4; review s27 R6-2,
				// as s26 R2-7 for the step page): the HEAD is refused, 405 with the methods
				// this page takes (RFC 9110 15.5.6), nothing opened.
				c.Response().Header().Set("Allow", "GET, POST")
				return c.NoContent(http.StatusMethodNotAllowed)
			}
		}
	} else if next, err := h.stepUp(c, sess, m); err != nil || next != "" {
		return err
	}
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d := accountData{Page: h.Pages.Base("Your account"), CSRF: csrf, Name: m.FullName, Login: m.Login, Email: m.Email, MemberID: m.MemberID,
		SignedInAt: signedInAt(sess), Method: method(sess.AMR), Notice: c.QueryParam("done"), SignOutAll: h.EndAll != nil}
	if h.Linked != nil {
		if d.Linked, err = h.Linked(ctx, sess.Subject); err != nil {
			return fmt.Errorf("list linked identities: %w", err)
		}
		d.Upstreams = h.Upstreams
	}
	for _, id := range sess.Clients {
		d.Apps = append(d.Apps, accountApp{id, h.clientName(ctx, id)})
	}
	consents, err := h.Consents.Consents(ctx, sess.Subject)
	if err != nil {
		return fmt.Errorf("list consents: %w", err)
	}
	for _, cs := range consents {
		var titles []string
		for _, sd := range h.Scopes(cs.ClientID, cs.Scopes) {
			titles = append(titles, sd.Title)
		}
		d.Consents = append(d.Consents, accountConsent{cs.ClientID, h.clientName(ctx, cs.ClientID), titles})
	}
	if h.Launch != nil {
		d.Launch = h.Launch(ctx)
	}
	return h.Pages.Render(c, http.StatusOK, "account", d)
}

// action handles the account page's forms: withdraw a consent, sign out of one app.
func (h *Handler) action(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, Path)
	}
	if h.StepUp != nil {
		m, err := h.Member(ctx, sess)
		if err != nil {
			return c.Redirect(http.StatusSeeOther, Path) // the page says why
		}
		if next, err := h.stepUp(c, sess, m); err != nil || next != "" {
			return err
		}
	}
	clientID := c.FormValue("client")
	if clientID == "" || len(clientID) > 128 {
		return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "No app was chosen.", "")
	}
	switch c.FormValue("action") {
	case "withdraw":
		if err := h.Consents.DeleteConsent(ctx, sess.Subject, clientID); err != nil {
			return fmt.Errorf("withdraw consent: %w", err)
		}
		n, err := h.Provider.RevokeGrants(ctx, sess.Subject, clientID)
		if err != nil {
			return fmt.Errorf("revoke grants: %w", err)
		}
		// The app ends the member's sessions there too: it may no longer act for them.
		if err := h.appLogout(ctx, clientID, sess.Subject, nil); err != nil {
			return err
		}
		h.Audit(ctx, &store.AuditEvent{Event: "consent.withdrawn", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(),
			Detail: fmt.Sprintf("%d token families revoked", n)})
		return c.Redirect(http.StatusSeeOther, Path+"?done=withdrawn")
	case "signout":
		if !slices.Contains(sess.Clients, clientID) {
			return c.Redirect(http.StatusSeeOther, Path)
		}
		// "Sign out of <app> on all your devices": no session of the member is signed into the
		// app any more (it leaves their "Apps you are signed into", here and in every other
		// browser, until they sign into it again, which adds it back); the member's grants at
		// the app are not bound to this browser (a refresh token with offline_access outlives
		// the session), so every one of them is revoked; and the app is told to end every
		// session of the member there (a logout token naming sub, no sid).
		// The sessions and the grants change in one transaction (store.SessionStore
		// SignOutOfClient): a sign-in into the app committing meanwhile is either closed or
		// stays listed with its grant (review s22 X-2), and a failure leaves both as they were,
		// the app still offered here to try again. The logout token follows: the app is told
		// only what was done.
		left, n, err := h.Sessions.SignOutOfClient(ctx, sess.Subject, clientID)
		if err != nil {
			return fmt.Errorf("sign out of app: %w", err)
		}
		if err := h.appLogout(ctx, clientID, sess.Subject, nil); err != nil {
			return err
		}
		h.Audit(ctx, &store.AuditEvent{Event: "logout.app", Subject: sess.Subject, ClientID: clientID, IP: c.RealIP(),
			Detail: fmt.Sprintf("%d token families revoked, %d sessions left it", n, left)})
		return c.Redirect(http.StatusSeeOther, Path+"?done=signedout")
	}
	return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "That action is not known.", "")
}

func signedInAt(sess *sso.Session) string { return sess.AuthTime.Format("2 Jan 2006 15:04 MST") }

// method says how a session signed in, for the member.
func method(amr []string) string {
	m := "password"
	if strings.Join(amr, ",") == "ams" {
		m = "from the member website"
	} else if slices.Contains(amr, "fed") {
		m = "with a linked account"
	}
	if slices.Contains(amr, "mfa") { // a second factor (bridge/mfa)
		if m == "password" && !slices.Contains(amr, "pwd") {
			m = "with a passkey"
		} else {
			m += " and a second factor"
		}
	}
	return m
}

// membershipUnavailable answers the account page when the AMS cannot be read: the page cannot
// be shown, but "Sign out of all devices" still works (it reads only the bridge's store), and a
// member who fears for their account is offered it.
func (h *Handler) membershipUnavailable(c echo.Context, err error) error {
	if h.EndAll == nil {
		return h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	h.Logger.ErrorContext(c.Request().Context(), "membership system error", "err", err)
	d := h.Pages.ErrorData(c, "Membership system unavailable",
		"We cannot reach the membership system right now, so we cannot show your account.",
		"Please try again in a few minutes. If you think someone else is using your account, you can still sign out of all your devices now.")
	d.Link, d.LinkText = PathSignOutAll, "Sign out of all devices"
	return h.Pages.Render(c, http.StatusServiceUnavailable, "error", d)
}

// signedInSession is this browser's live session for the sign-out-all pages: nil after
// answering (not signed in: the account page says so).
//
// Neither the AMS nor a step-up is asked (review s21 X3): "Sign out of all devices" only ends
// the member's own sessions and revokes their grants, so whoever holds a live session of the
// member gains nothing by it (the worst is the member signed out), while asking the AMS would
// let its outage, and asking a second factor would let a lost phone, block the member's one
// protective action when they need it most. A member the AMS now refuses (locked, lapsed) may
// still end their sessions too.
func (h *Handler) signedInSession(c echo.Context) (*sso.Session, error) {
	sess, err := h.Cookies.Current(c)
	if err != nil || h.EndAll == nil {
		return nil, c.Redirect(http.StatusSeeOther, Path)
	}
	return sess, nil
}

// signOutAllPage asks the member to confirm "Sign out of all devices".
func (h *Handler) signOutAllPage(c echo.Context) error {
	sess, err := h.signedInSession(c)
	if sess == nil {
		return err
	}
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	return h.Pages.Render(c, http.StatusOK, "account", accountData{Page: h.Pages.Base("Sign out of all devices"), CSRF: csrf,
		AllDevices: &allDevicesData{}})
}

// signOutAll ends every session of the member in every browser and revokes all their grants
// (EndAll: one transaction, with the apps' back-channel logouts), records one audit event and
// shows what ended. This browser is signed out with the rest.
func (h *Handler) signOutAll(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	sess, err := h.signedInSession(c)
	if sess == nil {
		return err
	}
	ctx := c.Request().Context()
	ended, err := h.EndAll(ctx, sess.Subject)
	if err != nil {
		return fmt.Errorf("sign out of all devices: %w", err)
	}
	if err := h.Cookies.Clear(c); err != nil {
		return err
	}
	d := &allDevicesData{Done: true}
	apps := 0
	for _, s := range ended.Sessions {
		es := endedSession{SignedInAt: signedInAt(s), Method: method(s.AMR), ThisBrowser: s.ID == sess.ID}
		for _, id := range s.Clients {
			es.Apps = append(es.Apps, h.clientName(ctx, id))
		}
		apps += len(s.Clients)
		d.Sessions = append(d.Sessions, es)
	}
	for _, id := range ended.TokenApps {
		d.TokenApps = append(d.TokenApps, h.clientName(ctx, id))
	}
	h.Audit(ctx, &store.AuditEvent{Event: "logout.all_devices", Subject: sess.Subject, IP: c.RealIP(),
		Detail: fmt.Sprintf("%d sessions ended (%d app sign-ins told), every grant revoked (refresh tokens at %d apps)",
			len(ended.Sessions), apps, len(ended.TokenApps))})
	return h.Pages.Render(c, http.StatusOK, "account", accountData{Page: h.Pages.Base("Signed out of all devices"), AllDevices: d})
}

func (h *Handler) appLogout(ctx context.Context, clientID, subject string, sess *sso.Session) error {
	if h.AppLogout == nil {
		return nil
	}
	if err := h.AppLogout(ctx, clientID, subject, sess); err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	return nil
}

// stepUp sends the browser to the second factor when the session lacks one the member uses; it
// returns where it sent it ("" when the page may go on).
func (h *Handler) stepUp(c echo.Context, sess *sso.Session, m *legacy.Member) (string, error) {
	if h.StepUp == nil {
		return "", nil
	}
	next, err := h.StepUp(c, sess, m)
	if err != nil || next == "" {
		return "", err
	}
	return next, c.Redirect(http.StatusSeeOther, next)
}
