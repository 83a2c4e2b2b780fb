package handoff

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the hand-off.
const (
	// Path is where the AMS website posts a hand-off, for any AMS: "imis" in it is history
	// (installed iMIS SSO iParts post to this URL), not a sign of an iMIS-only endpoint.
	Path         = "/handoff/imis"
	PathContinue = "/handoff/continue"
	PathStart    = "/handoff/start"
	PathConfirm  = "/handoff/confirm"
)

// Store is the replay guard of hand-off tokens and tickets.
type Store interface {
	// UseHandoffToken records the hash as used until expires; sso.ErrConflict when it was.
	UseHandoffToken(ctx context.Context, hash string, expires time.Time) error
	// ShortenHandoffToken brings the guard of hash forward to until.
	ShortenHandoffToken(ctx context.Context, hash string, until time.Time) error
}

// Provider is what the hand-off needs of the OpenID provider (sso.Provider): the pending auth
// request it resumes and its clients.
type Provider interface {
	AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error)
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// Handler serves the hand-off from the AMS website. Its fields are what it depends on.
type Handler struct {
	Pages   *web.Renderer
	Cookies *session.Cookies
	// Flow finishes the browser's pending sign-in request after the hand-off.
	Flow      *authflow.Handler
	Provider  Provider
	Store     Store
	Directory legacy.MemberLookup
	Subjects  *identity.SubjectMapper
	// Redeemer redeems the website's tokens (the hand-off POST; its Exchanger nil: the AMS
	// connector has no hand-off).
	Redeemer *Redeemer
	Audit    *audit.Log
	Sealer   *identity.Sealer
	Website  legacy.Website
	// DefaultClient is the app a hand-off without a pending request goes on to ("": the account page).
	DefaultClient string
	Issuer        string
	// HTTPS: the issuer is https (the hand-off cookie is __Host- prefixed and Secure).
	HTTPS bool
	// LimitAnonymous rate-limits an endpoint that writes for an anonymous caller.
	LimitAnonymous func(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc
	Logger         *slog.Logger
	Now            func() time.Time
}

// Mount adds the hand-off routes.
func (h *Handler) Mount(e *echo.Echo) {
	e.POST(Path, h.LimitAnonymous("handoff", false, h.post))
	e.GET(Path, h.info)
	e.HEAD(Path, h.info)
	e.GET(PathContinue, h.continued)
	e.POST(PathConfirm, h.confirm)
	e.POST(PathStart, h.start)
}

// handoffTicket is the exchanged AMS identity between the iPart POST and the same-site GET
// that can read this browser's cookie. It is sealed (AES-GCM) and single-use.
type handoffTicket struct {
	MemberKey string    `json:"k"`
	UserName  string    `json:"u"`
	Nonce     string    `json:"n"`
	Expires   time.Time `json:"e"`
	// Confirm: the POST's origin was opaque (Origin: null, a page with Referrer-Policy
	// no-referrer) or not sent, so the member confirms on a page naming the account (Name) first.
	Confirm bool   `json:"c,omitempty"`
	Name    string `json:"f,omitempty"`
}

// handoffReplayWindow is how long the hash of an AMS token the AMS refused is kept.
const handoffReplayWindow = 5 * time.Minute

// HandoffTokenGuard is how long the hash of a redeemed AMS token is kept, so that the same
// token is refused if it comes back (a browser's "resubmit the form" on a shared computer, a
// copy from a log). It must outlast the AMS's refresh tokens: iMIS's "Refresh token lifetime
// (minutes)" has no upper bound and iMIS does not say its SSO tokens are single-use; a month
// covers any sensible setting at the cost of one small row per hand-off.
const HandoffTokenGuard = 30 * 24 * time.Hour

// MaxToken bounds the refresh_token field (iMIS sends 32 hex characters).
const MaxToken = 512

// post receives the SSO iPart's POST. The POST is cross-site, so the browser's SameSite=Lax
// cookie is not sent with it: the token is exchanged here, once, and the browser continues with
// a same-site GET that carries the cookie.
func (h *Handler) post(c echo.Context) error {
	ctx := c.Request().Context()
	ip := c.RealIP()
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10)
	token := c.FormValue("refresh_token")
	fail := func(status int, reason, heading, msg string) error {
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "handoff.failure", IP: ip, Detail: reason})
		return h.Pages.Error(c, status, heading, msg, "Go back to the member website and try again, or sign in here with your username and password.")
	}
	if h.Redeemer.Exchanger == nil {
		return fail(http.StatusNotFound, "not_configured", "Sign-in from the member website is not set up", "This sign-in service is not connected to a member website.")
	}
	// Login CSRF: the iPart's form posts from the AMS website. Browsers send Origin with a
	// cross-site form POST; another site's origin is refused. An opaque origin ("null": the AMS
	// page may have Referrer-Policy no-referrer), or none (a browser too old to send it), is not
	// refused, but the member confirms on a page naming the account before any session is
	// created.
	origin := c.Request().Header.Get("Origin")
	if origin != "" && origin != "null" && !Origins(h.Website.Origins).has(origin) {
		return fail(http.StatusForbidden, "foreign_origin", "This sign-in did not come from the member website", "The sign-in request was sent from another site, so we did not act on it.")
	}
	if token == "" || len(token) > MaxToken || strings.ContainsAny(token, " \t\r\n\x00") {
		return fail(http.StatusBadRequest, "bad_request", "This sign-in link is not valid", "The member website did not send a usable sign-in token.")
	}
	m, err := h.Redeemer.Redeem(ctx, token)
	if err != nil {
		return h.handoffError(c, err, ip)
	}
	t := handoffTicket{MemberKey: m.Key, UserName: m.Login, Nonce: sso.RandomToken(), Expires: h.Now().Add(2 * time.Minute),
		Confirm: origin == "null" || origin == "", Name: memberLabel(m)}
	sealed, err := h.Sealer.Seal(identity.PurposeHandoff, t)
	if err != nil {
		return err
	}
	// Bind the ticket to this browser: the continue link works only where the POST happened.
	// On https the name is __Host- prefixed (Secure, Path=/, no Domain), as the session cookie:
	// a sibling subdomain cannot plant the nonce of its own ticket in a member's browser.
	name, path := h.handoffCookieName(), "/handoff"
	if h.HTTPS {
		path = "/"
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: name, Value: t.Nonce, Path: path, MaxAge: 300,
		HttpOnly: true, Secure: h.HTTPS, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, PathContinue+"?h="+url.QueryEscape(sealed))
}

// handoffCookie binds a hand-off ticket to the browser that received the iPart's POST.
const handoffCookie = "ssobridge_handoff"

// Origins are the AMS website's origins (its base URL and SSO page).
type Origins []string

// FromAMS reports whether a request came from a page of the AMS website: its Origin, or else
// the origin of its Referer.
func (o Origins) FromAMS(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		return o.has(origin)
	}
	ref, err := url.Parse(r.Header.Get("Referer"))
	if err != nil || ref.Host == "" {
		return false
	}
	return o.has(ref.Scheme + "://" + ref.Host)
}

// has reports whether origin is one of the AMS website's.
func (o Origins) has(origin string) bool {
	for _, x := range o {
		if strings.EqualFold(origin, x) {
			return true
		}
	}
	return false
}

// handoffCookieName is the hand-off cookie's name: __Host- prefixed on https.
func (h *Handler) handoffCookieName() string {
	if h.HTTPS {
		return "__Host-" + handoffCookie
	}
	return handoffCookie
}

// handoffBrowser checks that this browser received the ticket's POST.
func (h *Handler) handoffBrowser(c echo.Context, t *handoffTicket) bool {
	ck, err := c.Cookie(h.handoffCookieName())
	return err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(t.Nonce)) == 1
}

// Redeemer redeems the AMS website's hand-off tokens: for the hand-off POST and for RFC 8693
// token exchange (the provider's hook, built before the provider and so before Handler).
type Redeemer struct {
	Store Store
	// Exchanger redeems the website's tokens at the AMS (nil: the connector has no hand-off).
	Exchanger legacy.HandoffExchanger
	Directory legacy.MemberLookup
	// Access decides whether the member may sign in.
	Access *access.Checker
	Logger *slog.Logger
	Now    func() time.Time
	// Observer is told about each redemption as a sign-in (metrics). Optional.
	Observer signin.Observer
}

// Sign-in methods of a redemption (signin.Observer).
const (
	MethodHandoff       = "ams_handoff"    // the AMS website's hand-off
	MethodTokenExchange = "token_exchange" // RFC 8693 exchange of an AMS token
)

// Redeem redeems an AMS refresh token of the website's hand-off (RedeemAs MethodHandoff).
func (r *Redeemer) Redeem(ctx context.Context, token string) (*legacy.Member, error) {
	return r.RedeemAs(ctx, token, MethodHandoff)
}

// RedeemAs redeems an AMS refresh token exactly once and returns the member, who must be
// allowed to sign in; the observer counts it as a sign-in by method.
func (r *Redeemer) RedeemAs(ctx context.Context, token, method string) (*legacy.Member, error) {
	m, err := r.redeem(ctx, token)
	if r.Observer != nil {
		r.Observer.SignIn(method, Outcome(err))
	}
	return m, err
}

// Outcome names a redemption's result for metrics: ok, replayed, refused (the AMS refused
// the token), unknown_user, or legacy.Reason's code (ams_unavailable, a standing...).
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errHandoffReplay):
		return "replayed"
	case errors.Is(err, legacy.ErrHandoffRefused):
		return "refused"
	case errors.Is(err, errHandoffUnknownUser):
		return "unknown_user"
	}
	return legacy.Reason(err)
}

func (r *Redeemer) redeem(ctx context.Context, token string) (*legacy.Member, error) {
	if err := r.Store.UseHandoffToken(ctx, sso.HashToken(token), r.Now().Add(HandoffTokenGuard)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return nil, errHandoffReplay
		}
		return nil, err
	}
	login, err := r.Exchanger.ExchangeHandoff(ctx, token)
	if err != nil {
		// The AMS did not take it: keep its hash only for the replay window (a double submit),
		// not for a day, so junk tokens do not pile up. When the AMS could not be reached the
		// guard is lifted: nobody was signed in with the token, and the retry that the failure
		// asks for (the page's "try again", temporarily_unavailable) goes to the AMS again,
		// which decides; a second sign-in with the token stays impossible.
		until := r.Now().Add(handoffReplayWindow)
		if errors.Is(err, legacy.ErrUnavailable) {
			until = r.Now()
		}
		r.shorten(ctx, token, until)
		return nil, err
	}
	m, err := r.Directory.MemberByLogin(ctx, login)
	if err != nil {
		if errors.Is(err, legacy.ErrUnavailable) {
			// Nobody was signed in with it: the retry goes to the AMS again, which decides.
			r.shorten(ctx, token, r.Now())
		}
		if errors.Is(err, legacy.ErrNotFound) {
			return nil, fmt.Errorf("%w: AMS user %q is not in the directory", errHandoffUnknownUser, login)
		}
		return nil, err
	}
	if d := r.Access.Decide(ctx, m, "", access.AnyClient, r.Now()); !d.Allowed() {
		return nil, d.Cause
	}
	return m, nil
}

// shorten brings the replay guard of token forward to until.
func (r *Redeemer) shorten(ctx context.Context, token string, until time.Time) {
	if err := r.Store.ShortenHandoffToken(ctx, sso.HashToken(token), until); err != nil {
		r.Logger.WarnContext(ctx, "shorten hand-off token guard", "err", err)
	}
}

var (
	errHandoffReplay      = errors.New("hand-off token already used")
	errHandoffUnknownUser = errors.New("hand-off user unknown to the directory")
)

func (h *Handler) handoffError(c echo.Context, err error, ip string) error {
	ctx := c.Request().Context()
	reason, status := "error", http.StatusBadGateway
	heading, msg := "We could not sign you in from the member website", "Something went wrong while checking your sign-in with the member website."
	switch {
	case errors.Is(err, errHandoffReplay):
		reason, status, msg = "replayed", http.StatusBadRequest, "This sign-in link was already used. Each link from the member website works once."
	case errors.Is(err, legacy.ErrHandoffRefused):
		reason, status, msg = "invalid_grant", http.StatusBadRequest, "Your sign-in on the member website has expired or is not valid any more."
	case errors.Is(err, legacy.ErrHandoffClient):
		reason, status, msg = "invalid_client", http.StatusBadGateway, "This sign-in service is not registered correctly with the member website. Please tell the association."
	case errors.Is(err, errHandoffUnknownUser):
		reason, status, msg = "unknown_user", http.StatusForbidden, "Your member website account is not linked to a member record we can use."
	case errors.Is(err, legacy.ErrUnavailable):
		reason, status, heading, msg = "ams_unavailable", http.StatusServiceUnavailable, "Membership system unavailable", "We cannot reach the member website or the membership system right now. Please try again in a few minutes."
	default:
		if r := legacy.Reason(err); r != "error" {
			reason, status, msg = r, http.StatusForbidden, signin.Message(err)
		}
	}
	if reason == "ams_unavailable" || reason == "invalid_client" || reason == "error" {
		// Operator trouble: the cause goes to the log (the audit line has only the reason).
		h.Logger.ErrorContext(ctx, "hand-off failed", "reason", reason, "err", err)
	}
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "handoff.failure", IP: ip, Detail: reason})
	return h.Pages.Error(c, status, heading, msg, "Go back to the member website and try again, or sign in here with your username and password.")
}

func (h *Handler) openHandoff(raw string) (*handoffTicket, error) {
	var t handoffTicket
	if err := h.Sealer.Unseal(identity.PurposeHandoff, raw, &t); err != nil {
		return nil, err
	}
	if h.Now().After(t.Expires) {
		return nil, errors.New("expired")
	}
	return &t, nil
}

type handoffConfirmData struct {
	web.Page
	CSRF, Ticket, Current, Next string
}

// continued runs in the browser's own site context: it sees the SSO session and the
// pending auth request. A hand-off never silently replaces another member's session.
func (h *Handler) continued(c echo.Context) error {
	t, err := h.openHandoff(c.QueryParam("h"))
	if err == nil && !h.handoffBrowser(c, t) {
		h.Audit.Anonymous(c.Request().Context(), &store.AuditEvent{Event: "handoff.failure", IP: c.RealIP(), Detail: "other_browser"})
		err = errors.New("hand-off ticket opened in another browser")
	}
	if err != nil {
		return h.Pages.Error(c, http.StatusBadRequest, "This sign-in link has expired", "The sign-in from the member website took too long or was already used.", "Go back to the member website and try again.")
	}
	ctx := c.Request().Context()
	sub := h.Subjects.Subject(t.MemberKey)
	cur, err := h.currentSession(c)
	if err != nil {
		return h.sessionUnreadable(c, err)
	}
	if cur != nil && cur.Subject != sub {
		csrf, err := h.Cookies.CSRFToken(c)
		if err != nil {
			return err
		}
		curName := "another member"
		if key, err := h.Subjects.MemberKey(ctx, cur.Subject); err == nil {
			if m, err := h.Directory.MemberByKey(ctx, key); err == nil {
				curName = m.FullName + " (" + m.Login + ")"
			}
		}
		return h.Pages.Render(c, http.StatusOK, "handoff", handoffConfirmData{Page: h.Pages.Base("Switch member?"), CSRF: csrf,
			Ticket: c.QueryParam("h"), Current: curName, Next: t.UserName})
	}
	if t.Confirm {
		if cur == nil {
			csrf, err := h.Cookies.CSRFToken(c)
			if err != nil {
				return err
			}
			return h.Pages.Render(c, http.StatusOK, "handoff", handoffConfirmData{Page: h.Pages.Base("Continue as " + t.Name + "?"), CSRF: csrf,
				Ticket: c.QueryParam("h"), Next: t.Name})
		}
	}
	return h.completeHandoff(c, t)
}

// currentSession is the browser's SSO session, nil when it has none. Any other failure to
// read it (the store unreachable) is an error, never "no session": a hand-off read so would
// skip the "Switch member?" page and replace another member's session.
func (h *Handler) currentSession(c echo.Context) (*sso.Session, error) {
	cur, err := h.Cookies.Current(c)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hand-off: read the browser's session: %w", err)
	}
	return cur, nil
}

// sessionUnreadable answers a hand-off whose browser session could not be read: 503, nothing
// signed in or replaced, one log line and one audit row (handoff.failure session_unavailable).
func (h *Handler) sessionUnreadable(c echo.Context, err error) error {
	ctx := c.Request().Context()
	h.Logger.WarnContext(ctx, "hand-off refused: the browser's session could not be read", "err", err)
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "handoff.failure", IP: c.RealIP(), Detail: "session_unavailable"})
	c.Response().Header().Set("Retry-After", sso.UnavailableRetryAfter)
	return h.Pages.Error(c, http.StatusServiceUnavailable, "Please try again in a minute",
		"We could not check who is signed in on this browser, so nobody was signed in or out.",
		"Go back to the member website and try again in a minute.")
}

// memberLabel names a member on confirmation pages: "Alice Anders (alice)".
func memberLabel(m *legacy.Member) string {
	if m.FullName == "" {
		return m.Login
	}
	return m.FullName + " (" + m.Login + ")"
}

// info answers a GET or HEAD of the hand-off URL (iMIS may probe it when the content
// item is saved): 200 with a short explanation.
func (h *Handler) info(c echo.Context) error {
	return h.Pages.Render(c, http.StatusOK, "error", web.ErrorData{Page: h.Pages.Base("Sign-in from the member website"),
		Heading: "Sign-in from the member website",
		Message: "This address receives sign-ins from the member website (its single sign-on part sends them here). There is nothing to see when it is opened directly.",
		Hint:    "To sign in, open the app you want to use, or sign in on the member website."})
}

func (h *Handler) confirm(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	t, err := h.openHandoff(c.FormValue("t"))
	if err != nil || !h.handoffBrowser(c, t) {
		return h.Pages.Error(c, http.StatusBadRequest, "This sign-in link has expired", "The sign-in from the member website took too long or was already used.", "Go back to the member website and try again.")
	}
	if c.FormValue("decision") != "switch" {
		// "Stay signed in as <member>" (or "Cancel"): the hand-off's member is not signed in,
		// and the browser's session, the member the page named, goes on to the app that was
		// waiting, through the completion every sign-in takes (its access rule, consent and
		// second factor apply). The session is the one the page was shown with: signing
		// another member in since gave the browser a new CSRF token (session.Cookies.Set), so
		// this form would have been refused above.
		sess, err := h.Cookies.Current(c)
		if err != nil {
			if !errors.Is(err, sso.ErrNotFound) {
				return err
			}
			return h.Pages.Render(c, http.StatusOK, "error", web.ErrorData{Page: h.Pages.Base("Not signed in"), Heading: "You were not signed in",
				Message: "Nothing was changed: the sign-in from the member website was cancelled.",
				Hint:    "To sign in, open the app you want to use, or sign in on the member website."})
		}
		return h.continueAfterSignIn(c, sess)
	}
	return h.completeHandoff(c, t)
}

// completeHandoff consumes the ticket and signs the member in: the second-factor step first
// when the member or the waiting app needs one (no session written until it passes), else now:
// a new session, or the browser's session of this member signed in again.
func (h *Handler) completeHandoff(c echo.Context, t *handoffTicket) error {
	ctx := c.Request().Context()
	// Read before the ticket is spent: a browser whose session cannot be read keeps its
	// ticket for a reload, and nothing is replaced.
	if _, err := h.currentSession(c); err != nil {
		return h.sessionUnreadable(c, err)
	}
	if err := h.Store.UseHandoffToken(ctx, sso.HashToken("ticket:"+t.Nonce), t.Expires.Add(time.Hour)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return h.handoffError(c, errHandoffReplay, c.RealIP())
		}
		return err
	}
	m, err := h.Directory.MemberByKey(ctx, t.MemberKey)
	if err != nil {
		return h.handoffError(c, err, c.RealIP())
	}
	// A sign-in, also into a browser already signed in as this member (cur): the member has
	// just signed in at the AMS, which the bridge verified by redeeming the AMS's token, so
	// the session records this sign-in as a new hand-off session does (OIDC Core 2,
	// auth_time: when the member authenticated): auth time now, methods ["ams"] (and the
	// second factor's, once the step passes, when the member or the waiting app needs one).
	// The member's own session is signed in again (authflow newSession: a compare-and-set
	// of the cookie it presented, store.ReauthenticateSession; its id and apps are kept),
	// never kept with the older sign-in's time, nor given this one's time with the older
	// sign-in's methods: a hand-off never makes a session look as if it passed a password or
	// a second factor now. Until the step passes, the session stays as it was.
	// The browser's waiting request (if it is still pending and this browser's).
	pending, err := h.Cookies.TakePending(c)
	if err != nil {
		return err
	}
	var (
		ar     *sso.AuthRequest
		client *sso.ClientConfig
	)
	if pending != "" {
		if ar, client, _ = h.pendingRequestQuiet(ctx, pending); ar != nil {
			if err := h.Flow.ClaimRequest(c, ar); err != nil {
				return h.Flow.RequestStateError(c, ar, client, err)
			}
		}
	}
	amr := []string{authflow.AMRHandOff}
	if h.Flow.SecondFactor != nil {
		next, err := h.Flow.SecondFactor.AfterFirstFactor(c, h.firstFactor(ctx, ar, client, m, amr))
		if err != nil {
			return err
		}
		if next != "" {
			// No session yet: the second-factor step opens it once passed.
			h.Audit.Write(ctx, &store.AuditEvent{Event: "login.first_factor_ok", Subject: h.Subjects.Subject(m.Key), Login: m.Login,
				IP: c.RealIP(), Detail: "ams hand-off: second factor next"})
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	if ar != nil {
		// The session is written with the completion of the request (one transaction), or
		// where the flow stops, never before the request's compare-and-set: a hand-off posted
		// twice (two tabs, a reload) leaves one session.
		return h.Flow.FinishSignIn(c, ar, client, m, amr,
			&store.AuditEvent{Event: "login.success", Login: m.Login, ClientID: client.ID, IP: c.RealIP(), Detail: "ams hand-off"})
	}
	sess, err := h.Flow.StartSession(c, m, amr)
	if err != nil {
		return err
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "login.success", Subject: sess.Subject, Login: m.Login, IP: c.RealIP(), Detail: "ams hand-off"})
	return c.Redirect(http.StatusSeeOther, h.defaultNext(ctx))
}

// continueAfterSignIn resumes the browser's pending auth request with its session sess, else
// goes to the default app, else the account page. A pending request gone (expired) is
// forgotten; one finished meanwhile (another tab) gets the already-used page.
func (h *Handler) continueAfterSignIn(c echo.Context, sess *sso.Session) error {
	pending, err := h.Cookies.TakePending(c)
	if err != nil {
		return err
	}
	if pending != "" {
		if ar, client, _ := h.pendingRequestQuiet(c.Request().Context(), pending); ar != nil {
			// Only a request still pending, and bound to this browser, is finished here.
			if err := h.Flow.ClaimRequest(c, ar); err != nil {
				return h.Flow.RequestStateError(c, ar, client, err)
			}
			m, err := h.Flow.Member(c.Request().Context(), sess)
			if errors.Is(err, sso.ErrAccessDenied) {
				// The member behind the session may no longer sign in: the request's login
				// page ends the session and asks, as it does for any session.
				return c.Redirect(http.StatusSeeOther, authflow.PathLogin+"?id="+url.QueryEscape(ar.ID))
			}
			if err != nil {
				return h.Pages.MembershipUnavailable(c, h.Logger, err)
			}
			return h.Flow.Finish(c, ar, client, sess, m)
		}
	}
	return c.Redirect(http.StatusSeeOther, h.defaultNext(c.Request().Context()))
}

// firstFactor is the hand-off's first factor for the second-factor step: it continues ar
// (with client), or, with no request waiting, goes on to defaultNext, which is looked up only
// then.
func (h *Handler) firstFactor(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, m *legacy.Member, amr []string) *authflow.FirstFactor {
	ff := &authflow.FirstFactor{AR: ar, Client: client, Member: m, AMR: amr, Detail: "ams hand-off"}
	if ar == nil {
		ff.Next = h.defaultNext(ctx)
	}
	return ff
}

// defaultNext is where a hand-off with no waiting request goes: the default app's
// third-party-initiated login (OIDC Core 4: its initiate_login_uri with iss added to the query
// it may already have), else the account page. A URI that is not http(s) is not followed.
func (h *Handler) defaultNext(ctx context.Context) string {
	if id := h.DefaultClient; id != "" {
		if cl, err := h.Provider.Client(ctx, id); err == nil && cl.InitiateLoginURI != "" {
			if target, ok := cl.InitiateLoginURL(h.Issuer); ok {
				return target
			}
			h.Logger.WarnContext(ctx, "hand-off: the default client's initiate_login_uri is not an http(s) URL; going to the account page", "client", id)
		}
	}
	return "/account"
}

func (h *Handler) pendingRequestQuiet(ctx context.Context, id string) (*sso.AuthRequest, *sso.ClientConfig, error) {
	ar, err := h.Provider.AuthRequest(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	cl, err := h.Provider.Client(ctx, ar.ClientID)
	if err != nil {
		return nil, nil, err
	}
	return ar, cl, nil
}

// start remembers the pending auth request and sends the member to the AMS SSO page.
func (h *Handler) start(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	if h.Redeemer.Exchanger == nil {
		return h.Pages.Error(c, http.StatusNotFound, "Not available", "Sign-in with the member website is not set up.", "")
	}
	ar, _, err := h.Flow.PendingRequest(c, c.FormValue("id"))
	if ar == nil {
		return err
	}
	if authflow.FreshSignIn(ar) { // a hand-off from the AMS website cannot give a fresh sign-in: its session may be days old
		// The hand-off proves a session on the AMS website of unknown age, and the member types
		// nothing: it is no re-authentication (OIDC Core 3.1.2.1 prompt=login, max_age: "the OP
		// MUST attempt to actively re-authenticate the End-User").
		return h.Pages.Error(c, http.StatusBadRequest, "Please sign in with your username and password",
			"This app asks you to sign in again, so signing in through the member website is not enough this time.",
			"Go back to the sign-in page and enter your username and password.")
	}
	if err := h.Cookies.SetPending(c, ar.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, h.Website.SSOURL)
}

// Reason says in a few words why a hand-off token was not redeemed (for audit rows).
func Reason(err error) string {
	switch {
	case errors.Is(err, errHandoffReplay):
		return "token already used"
	case errors.Is(err, legacy.ErrHandoffRefused):
		return "AMS token invalid or expired"
	case errors.Is(err, errHandoffUnknownUser):
		return "AMS user unknown to the directory"
	}
	return legacy.Reason(err)
}
