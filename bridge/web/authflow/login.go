package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

type loginData struct {
	web.Page
	CSRF, RequestID, ClientName, Login, Error, AMSName string
	Upstreams                                          []web.UpstreamButton
	// Passkeys offers signing in with a passkey alone.
	Passkeys bool
	// Action is where the form posts ("": /login; the SAML IdP's sign-in posts elsewhere).
	Action string
}

// PendingRequest loads the auth request of a login/consent page for this browser, or renders
// the error page (and returns a nil request). The request must be pending; the first browser to
// open it binds it, and only that browser can go on with it.
func (h *Handler) PendingRequest(c echo.Context, id string) (*sso.AuthRequest, *sso.ClientConfig, error) {
	ctx := c.Request().Context()
	ar, err := h.Provider.AuthRequest(ctx, id)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return nil, nil, h.Expired(c)
		}
		return nil, nil, fmt.Errorf("load auth request: %w", err)
	}
	return h.PendingLoaded(c, ar)
}

// PendingLoaded is PendingRequest for a request its caller has just read (the upstream
// callback reads it to check the provider's auth time first): its client, and the request
// pending and this browser's.
func (h *Handler) PendingLoaded(c echo.Context, ar *sso.AuthRequest) (*sso.AuthRequest, *sso.ClientConfig, error) {
	client, err := h.Provider.Client(c.Request().Context(), ar.ClientID)
	if err != nil {
		// Never answered at the app here: the request may be answered already, another
		// browser's, or asked with HEAD (ClaimRequest has not checked it); its one answer is
		// Authorize's or the claiming login page's (review s27 R6-1).
		return nil, nil, h.clientFault(c, ar, err)
	}
	if err := h.ClaimRequest(c, ar); err != nil {
		return nil, nil, h.RequestStateError(c, ar, client, err)
	}
	return ar, client, nil
}

// claimedRequest is PendingRequest for the login page, where a new request is opened by its
// first browser: the request is bound to this browser and read in one write
// (ClaimAuthRequest). A request that write does not bind (bound already, finished, expired,
// unknown) goes through PendingRequest, which says which.
func (h *Handler) claimedRequest(c echo.Context, id string) (*sso.AuthRequest, *sso.ClientConfig, error) {
	if id == "" || len(id) > 128 {
		return h.PendingRequest(c, id)
	}
	ctx := c.Request().Context()
	// A new binding is saved in the cookie only once it has bound a request.
	browser, fresh := h.Cookies.PeekRequestBrowser(c)
	ar, err := h.Store.ClaimAuthRequest(ctx, id, browser)
	if err != nil {
		return nil, nil, fmt.Errorf("claim auth request: %w", err)
	}
	if ar == nil {
		return h.PendingRequest(c, id)
	}
	if fresh {
		if err := h.Cookies.Save(c); err != nil {
			return nil, nil, h.silentFault(c, ar, fmt.Errorf("save cookie: %w", err))
		}
	}
	client, err := h.Provider.Client(ctx, ar.ClientID)
	if err != nil {
		return nil, nil, h.silentFault(c, ar, h.clientFault(c, ar, err))
	}
	return ar, client, nil
}

// clientFault answers a stored auth request (ar) whose client could not be read (err): a
// client no longer registered gets the page that says so (its redirect_uri is no longer
// one this service vouches for); any other error is a fault of this server, not the
// browser's, returned for the error handler's page (500, or 503 with Retry-After when the
// store is unavailable). Never "not registered" for a store that could not answer (review
// s26 R2-6). Where the request was just bound to this browser (answerAuthorized,
// claimedRequest), the caller hands the error to silentFault: a silent request (prompt=none)
// is answered at the redirect_uri op verified when it stored the request (server_error, or
// temporarily_unavailable; OIDC Core 3.1.2.6, RFC 6749 4.1.2.1).
func (h *Handler) clientFault(c echo.Context, ar *sso.AuthRequest, err error) error {
	if errors.Is(err, sso.ErrNotFound) {
		return h.Pages.Error(c, http.StatusBadRequest, "This app is not registered",
			"The app that sent you here is no longer registered with this sign-in service.", "")
	}
	return fmt.Errorf("read client %q of auth request: %w", ar.ClientID, err)
}

// postedRequest checks a form post's CSRF token, then loads the pending auth request it names
// (field id) as PendingRequest does. On a failure it renders the error page and returns a nil
// request.
func (h *Handler) postedRequest(c echo.Context) (*sso.AuthRequest, *sso.ClientConfig, error) {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return nil, nil, h.Cookies.CSRFFailed(c)
	}
	return h.PendingRequest(c, c.FormValue("id"))
}

// ClaimRequest checks that ar is pending and binds it to this browser (or checks that it is).
func (h *Handler) ClaimRequest(c echo.Context, ar *sso.AuthRequest) error {
	if ar.Done {
		return sso.ErrAuthRequestUsed
	}
	// A new binding is saved in the cookie only once it has bound the request.
	browser, fresh := h.Cookies.PeekRequestBrowser(c)
	if ar.Browser == "" && c.Request().Method == http.MethodHead {
		// A HEAD is answered as the GET that binds the request would be, without the binding
		// (RFC 9110 9.3.2: the consent and step pages answer HEAD).
		ar.Browser = browser
	}
	if ar.Browser == "" {
		if err := h.Store.BindAuthRequest(c.Request().Context(), ar.ID, browser); err != nil {
			return err
		}
		ar.Browser = browser
		if fresh {
			if err := h.Cookies.Save(c); err != nil {
				return fmt.Errorf("save cookie: %w", err)
			}
		}
	}
	if subtle.ConstantTimeCompare([]byte(ar.Browser), []byte(browser)) != 1 {
		return sso.ErrAuthRequestElsewhere
	}
	return nil
}

// RequestState is the answer to a sign-in request this browser may not go on with, for the
// error page (RequestStateError) or a one-line JSON answer (the passkey sign-in): its status,
// Heading, Message and Hint for the page (Title: the page's title, when not Heading), Short
// for one line, and a Link to start again.
type RequestState struct {
	Title                         string
	Status                        int
	Heading, Message, Hint, Short string
	Link, LinkText                string
}

// RequestState decides the answer to err, a sign-in request this browser may not go on with
// (ar: the request as read, nil when it is gone): already used (sso.ErrAuthRequestUsed),
// bound to another browser (sso.ErrAuthRequestElsewhere, offering to start over), expired or
// unknown (sso.ErrNotFound); and writes its audit row (not for a HEAD, which writes nothing).
// ok is false (nothing written) for another error.
func (h *Handler) RequestState(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, err error) (a RequestState, ok bool) {
	ctx := c.Request().Context()
	audit := func(e *store.AuditEvent) {
		if c.Request().Method != http.MethodHead {
			h.Audit.Anonymous(ctx, e)
		}
	}
	switch {
	case errors.Is(err, sso.ErrAuthRequestUsed):
		audit(&store.AuditEvent{Event: "authorize.request_used", ClientID: ar.ClientID, IP: c.RealIP()})
		return RequestState{Status: http.StatusConflict, Heading: "This sign-in link was already used",
			Message: "The sign-in this link belongs to has been finished, so it cannot be used again.",
			Hint:    "Go back to the app and start signing in again.",
			Short:   "This sign-in was finished already. Go back to the app and start signing in again."}, true
	case errors.Is(err, sso.ErrAuthRequestElsewhere):
		audit(&store.AuditEvent{Event: "authorize.request_elsewhere", ClientID: ar.ClientID, IP: c.RealIP()})
		a := RequestState{Status: http.StatusForbidden, Title: "Start signing in again", Heading: "This sign-in was started in another browser",
			Message: "For your safety, a sign-in can only be finished in the browser where it was first opened, and this is another browser.",
			Hint:    "If you did not start it yourself, someone may have sent you this link: do not sign in through it. Otherwise start again from the app in this browser.",
			Short:   "This sign-in was started in another browser. Start again from the app in this browser."}
		if client != nil {
			if target, ok := client.InitiateLoginURL(h.Issuer); ok {
				a.Link, a.LinkText = target, "Start again at "+client.Name
			}
		}
		return a, true
	case errors.Is(err, sso.ErrNotFound):
		return expiredSignIn, true
	}
	return RequestState{}, false
}

// expiredSignIn is the answer to a sign-in that is gone (unknown, expired, or finished and
// deleted), written here only: RequestState, PendingRequest, the authorize callback and the
// upstream callback (Expired) say it in these words.
var expiredSignIn = RequestState{Status: http.StatusBadRequest, Heading: "This sign-in has expired",
	Message: "The sign-in link is no longer valid: it was used already, is too old, or was opened in another browser.",
	Hint:    "Go back to the app and start signing in again.",
	Short:   "This sign-in has expired. Go back to the app and start signing in again."}

// Expired renders the page of a sign-in that is gone (expiredSignIn). It writes no audit row:
// its callers know why it is gone.
func (h *Handler) Expired(c echo.Context) error { return h.renderState(c, expiredSignIn) }

// RequestStateError answers a sign-in request that this browser may not go on with
// (RequestState) with the error page; another error is returned as it is.
func (h *Handler) RequestStateError(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, err error) error {
	a, ok := h.RequestState(c, ar, client, err)
	if !ok {
		return err
	}
	return h.renderState(c, a)
}

// renderState renders a RequestState as the error page.
func (h *Handler) renderState(c echo.Context, a RequestState) error {
	d := h.Pages.ErrorData(c, a.Heading, a.Message, a.Hint)
	if a.Title != "" {
		d.Page = h.Pages.Base(a.Title)
	}
	d.Link, d.LinkText = a.Link, a.LinkText
	return h.Pages.Render(c, a.Status, "error", d)
}

// loginPage is where a new auth request is opened when /authorize did not answer it itself
// (Authorize): the device flow's requests, and the requests sent back to the login page.
func (h *Handler) loginPage(c echo.Context) error {
	ar, client, err := h.claimedRequest(c, c.QueryParam("id"))
	if ar == nil {
		return err
	}
	return h.signInPage(c, ar, client)
}

// Authorize wraps op's authorization endpoint (next): a request op accepts is stored bound to
// this browser and answered here, on the same response, as the login page answers a new
// request (signInPage): the login form, or straight on with the browser's session. So a
// sign-in needs neither the redirect to /login nor its binding write. The binding cookie is
// saved only with a stored request: a request op refuses (an error page, or an error sent to
// the client) leaves none. The form posts to /login with the request's id, as the login
// page's does, and the page's URL is /authorize?...: the security headers keep that query out
// of referers (Referrer-Policy) and caches (Cache-Control).
//
// Only a GET is answered so: a POST to /authorize may come from another site, and a browser
// sends no SameSite=Lax cookie with it, so its binding would be a new cookie's, replacing the
// browser's (and its session). op's redirect to the login page is a GET, which carries the
// cookie.
func (h *Handler) Authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet {
			return next(c)
		}
		browser, fresh := h.Cookies.PeekRequestBrowser(c)
		ctx, answer := sso.WithAuthorizeAnswer(c.Request().Context(), browser)
		c.SetRequest(c.Request().WithContext(ctx))
		if err := next(c); err != nil {
			return err
		}
		ar := answer.Request()
		if ar == nil {
			return nil // op answered
		}
		return h.answerAuthorized(c, ar, fresh)
	}
}

// answerAuthorized answers ar, an auth request op has just accepted and stored bound to this
// browser (Authorize): it saves the binding cookie when fresh (a new one), reads the client and
// answers as the login page does (signInPage). op has verified the client and the redirect_uri,
// so a fault from here on is answered at the redirect_uri for a silent request (prompt=none:
// silentFault, clientFault), not with a page nobody sees (review s26 R2-6).
func (h *Handler) answerAuthorized(c echo.Context, ar *sso.AuthRequest, fresh bool) error {
	if fresh {
		if err := h.Cookies.Save(c); err != nil {
			return h.silentFault(c, ar, fmt.Errorf("save cookie: %w", err))
		}
	}
	client, err := h.Provider.Client(c.Request().Context(), ar.ClientID)
	if err != nil {
		return h.silentFault(c, ar, h.clientFault(c, ar, err))
	}
	return h.signInPage(c, ar, client)
}

// signInPage answers a new auth request bound to this browser: with the browser's session when
// it answers the request (with prompt=select_account, the account choice first: account.go),
// else the login form (or, with prompt=none, login_required).
func (h *Handler) signInPage(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig) error {
	return h.silentFault(c, ar, h.answerSignIn(c, ar, client))
}

func (h *Handler) answerSignIn(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig) error {
	// A silent request that is no browser navigation (a script, an image or a fetch from a page
	// of the same site, which the session cookie reaches) gets login_required in JSON whether
	// or not this browser is signed in, before the session is read: a code for a signed-in
	// browser and an error for a signed-out one would tell that page which it is (review s28
	// R9-1). The request stays pending for the navigation that can carry its answer.
	if slices.Contains(ar.Prompt, oidc.PromptNone) && !navigation(c) {
		return h.answerNotNavigation(c, ar, oidc.ErrLoginRequired().WithDescription("a silent sign-in is answered to a browser navigation only"))
	}
	sess, serr := h.Cookies.Current(c)
	if serr != nil && !errors.Is(serr, sso.ErrNotFound) {
		return serr
	}
	if sess != nil && h.sessionAnswers(ar, sess) {
		m, ended, err := h.sessionMember(c, ar, sess)
		switch {
		case ended:
			// The member behind the session may no longer sign in: the login form below asks.
		case m == nil:
			return err
		case selectAccount(ar):
			// The app asks the member to choose (prompt=select_account): never a code at once.
			return h.showAccountChoice(c, ar, client, sess, m)
		default:
			return h.Finish(c, ar, client, sess, m)
		}
	}
	if slices.Contains(ar.Prompt, oidc.PromptNone) {
		return h.redirectError(c, ar, oidc.ErrLoginRequired().WithDescription("the member is not signed in"))
	}
	return h.showLogin(c, ar, client, ar.LoginHint, "", http.StatusOK)
}

// sessionMember reads the member behind the browser's session sess for the auth request ar.
// When that member may no longer sign in it ends the session (apps are told) and reports
// ended, so the caller asks again; when the AMS (or the store) cannot answer it renders the
// page that says so, or, for a silent request (prompt=none: a hidden iframe, a background
// redirect, where no page may be shown and nobody would see one), answers the app
// temporarily_unavailable at its redirect_uri (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) so it can
// try again later instead of waiting for an answer that never comes. Either way m is nil, and
// err is what the handler returns unless ended.
func (h *Handler) sessionMember(c echo.Context, ar *sso.AuthRequest, sess *sso.Session) (m *legacy.Member, ended bool, err error) {
	ctx := c.Request().Context()
	if m, err = h.Member(ctx, sess); err == nil {
		return m, false, nil
	}
	if !errors.Is(err, sso.ErrAccessDenied) {
		if slices.Contains(ar.Prompt, oidc.PromptNone) {
			h.Logger.ErrorContext(ctx, "membership system error", "err", err, "client", ar.ClientID, "prompt", "none")
			return nil, false, h.redirectError(c, ar, errTemporarilyUnavailable())
		}
		return nil, false, h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	if err := h.EndSession(ctx, sess); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// FreshSignIn reports whether ar asks for a fresh or recent sign-in (prompt=login or a max_age,
// OpenID Connect Core 3.1.2.1), which the AMS website's hand-off cannot give (the member types
// nothing; /handoff/start refuses such requests with this test).
func FreshSignIn(ar *sso.AuthRequest) bool {
	return slices.Contains(ar.Prompt, oidc.PromptLogin) || ar.MaxAge != nil
}

// AMRHandOff is the amr of a session opened by the AMS website's hand-off (bridge/web/handoff).
const AMRHandOff = "ams"

// sessionAnswers reports whether sess may complete ar without asking for the password again.
// prompt=login, a max_age older than the session's sign-in, or an id_token_hint naming another
// member (the client expects someone else: never answer for this one silently) ask for a new
// sign-in, which only a session signed in after the request was made has given. Every path
// that completes a request checks it (complete), not only the login page: the consent page
// and the hand-off are entry points too.
func (h *Handler) sessionAnswers(ar *sso.AuthRequest, sess *sso.Session) bool {
	if FreshSignIn(ar) && slices.Contains(sess.AMR, AMRHandOff) {
		// A session the AMS website's hand-off opened is no re-authentication, whenever it was
		// opened: the member typed nothing there, and its auth time is the hand-off's, not when
		// the member last proved who they are to the AMS (OIDC Core 3.1.2.1, prompt=login and
		// max_age). The hand-off refuses such requests itself; this covers a hand-off made
		// without the request (the AMS website's own SSO page) and the login page reloaded.
		return false
	}
	if !ar.CreatedAt.IsZero() && !sess.AuthTime.Before(ar.CreatedAt) {
		return true
	}
	return !slices.Contains(ar.Prompt, oidc.PromptLogin) &&
		(ar.MaxAge == nil || h.Now().Sub(sess.AuthTime) <= *ar.MaxAge) &&
		(ar.HintSubject == "" || sess.Subject == ar.HintSubject)
}

func (h *Handler) showLogin(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, login, msg string, status int) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	data := loginData{
		Page: h.Pages.Base("Sign in"), CSRF: csrf, RequestID: ar.ID, ClientName: client.Name,
		Login: login, Error: msg, AMSName: h.AMSName, Upstreams: h.Upstreams,
		Passkeys: h.SecondFactor != nil && h.SecondFactor.PasskeyLogin(),
	}
	if FreshSignIn(ar) {
		// The AMS website's hand-off is no fresh sign-in (/handoff/start refuses the request):
		// no button for it.
		data.AMSName = ""
	}
	if login == "" && msg == "" {
		// The usual page (no login typed, no message): the client's page prepared once,
		// with this browser's token and this request's id put in.
		if p := h.preparedLogin(data); p != nil {
			if ok, err := h.Pages.RenderPrepared(c, status, p, csrf, ar.ID); ok || err != nil {
				return err
			}
		}
	}
	return h.Pages.Render(c, status, "login", data)
}

// maxPreparedLogins bounds the prepared login pages kept (one per client and name).
const maxPreparedLogins = 256

// preparedLogins keeps the login page of each client prepared (web.Prepared) with slots for
// the CSRF token and the request id; everything else on it is the same for every request of
// the client. The zero value is ready.
type preparedLogins struct {
	mu    sync.Mutex
	pages map[preparedLoginKey]*web.Prepared
	// csrf and id are the slots that stand for the token and the request id.
	csrf, id string
}

// preparedLoginKey is what a login page without a typed login and message depends on, beyond
// the handler's own settings.
type preparedLoginKey struct {
	clientName string
	passkeys   bool
	noHandoff  bool // a fresh sign-in's page, without the hand-off button
}

// preparedLogin returns the prepared login page of data's client (data without a typed login
// and message, Action empty), preparing it the first time; nil when it cannot be kept (too
// many).
func (h *Handler) preparedLogin(data loginData) *web.Prepared {
	pl := &h.logins
	key := preparedLoginKey{clientName: data.ClientName, passkeys: data.Passkeys, noHandoff: data.AMSName == ""}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if p, ok := pl.pages[key]; ok {
		return p
	}
	if len(pl.pages) >= maxPreparedLogins {
		return nil
	}
	if pl.pages == nil {
		pl.pages, pl.csrf, pl.id = map[preparedLoginKey]*web.Prepared{}, web.Slot(), web.Slot()
	}
	data.CSRF, data.RequestID = pl.csrf, pl.id
	p, err := h.Pages.Prepare("login", data, pl.csrf, pl.id)
	if err != nil {
		h.Logger.Error("prepare login page", "err", err)
		return nil
	}
	pl.pages[key] = p
	return p
}

// msgBadCredentials is what the login page says after a wrong login or password.
const msgBadCredentials = signin.BadCredentials

// loginSubmit checks the password against the AMS.
func (h *Handler) loginSubmit(c echo.Context) error {
	ar, client, err := h.postedRequest(c)
	if ar == nil {
		return err
	}
	ctx := c.Request().Context()
	login, password, ip := c.FormValue("login"), c.FormValue("password"), c.RealIP()
	if len(login) > 256 || len(password) > 1024 {
		return h.showLogin(c, ar, client, "", msgBadCredentials, http.StatusBadRequest)
	}
	m, err := h.SignIn.Check(ctx, signin.Attempt{Login: login, Password: password, ClientID: client.ID, IP: ip})
	var throttled *signin.ThrottledError
	if errors.As(err, &throttled) {
		if throttled.AfterFailure {
			h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "login.throttled", Login: h.SignIn.Hash(login), ClientID: client.ID, IP: ip, Detail: "member"})
		}
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(throttled.RetryAfter.Seconds())+1))
		return h.showLogin(c, ar, client, login, fmt.Sprintf(
			"Too many sign-in attempts. For your security, please wait %s and try again.", humanDuration(throttled.RetryAfter)),
			http.StatusTooManyRequests)
	}
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, legacy.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		} else if ctx.Err() != nil {
			return err // the browser is gone
		}
		return h.showLogin(c, ar, client, login, signin.Message(err), status)
	}
	if h.SecondFactor != nil {
		next, err := h.SecondFactor.AfterFirstFactor(c, &FirstFactor{AR: ar, Client: client, Member: m, AMR: []string{"pwd"}})
		if err != nil {
			return err
		}
		if next != "" {
			// No session yet: the second-factor step opens it once passed.
			h.Audit.Write(ctx, &store.AuditEvent{Event: "login.password_ok", Subject: h.Subjects.Subject(m.Key), Login: m.Login,
				ClientID: client.ID, IP: ip, Detail: "second factor next"})
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	// The session and its audit row are written with the completion (one transaction), or
	// before any other way out of Finish (onewrite.go).
	sess, err := h.startFreshSession(c, m, []string{"pwd"},
		&store.AuditEvent{Event: "login.success", Login: m.Login, ClientID: client.ID, IP: ip, Detail: "pwd"})
	if err != nil {
		return err
	}
	return h.Finish(c, ar, client, sess, m)
}

// StartSession opens the browser's SSO session for a member who has just signed in: a new
// session (always a new id: no session fixation), the browser's previous one ending first; or,
// when the previous one is the same member's, that session signed in again (newSession).
func (h *Handler) StartSession(c echo.Context, m *legacy.Member, amr []string) (*sso.Session, error) {
	return h.StartSessionWith(c, m, amr, SignInOptions{})
}

// newSessionData is a sign-in's session before it is written.
type newSessionData struct {
	sess *sso.Session
	raw  string // the cookie's new session id
	// prev is the browser's live session of another member (nil: none), which the caller ends
	// once the new one replaces it (endPrevious).
	prev *sso.Session
	// reauth, when set, says that sess is the browser's live session of the same member signed
	// in again (store.SessionReauth): its id, clients and apps are kept, so no app is signed out
	// and a later sign-out reaches every app with the sid it knows; it is written by a
	// compare-and-set of the cookie value the browser presented, which raw replaces (no session
	// fixation). A fresh sign-in an app asks for (prompt=login, max_age, a SAML SP's ForceAuthn,
	// an upstream provider's re-authentication) does so, as a step-up to a second factor does.
	reauth *store.SessionReauth
}

// newSession is StartSession's session before it is written: the member's subject remembered,
// a new random cookie id, and either a new session or the browser's live one of the same member
// signed in again.
func (h *Handler) newSession(c echo.Context, m *legacy.Member, amr []string, authTime time.Time) (*newSessionData, error) {
	ctx := c.Request().Context()
	now := h.Now()
	sub, err := h.Subjects.Remember(ctx, m.Key, m.Login, now)
	if err != nil {
		return nil, err
	}
	at := now
	if !authTime.IsZero() && authTime.Before(now) {
		at = authTime
	}
	var prev *sso.Session
	if old, err := h.Cookies.Current(c); err == nil {
		prev = old
	}
	raw, key := session.NewID(now)
	expires := now.Add(h.SessionLifetime)
	if prev != nil && subtle.ConstantTimeCompare([]byte(prev.Subject), []byte(sub)) == 1 {
		sess := &sso.Session{ID: prev.ID, Subject: sub, AuthTime: at, AMR: amr, CreatedAt: prev.CreatedAt, LastSeen: now,
			ExpiresAt: expires, Clients: prev.Clients}
		if prev.ExpiresAt.After(expires) {
			sess.ExpiresAt = prev.ExpiresAt
		}
		return &newSessionData{sess: sess, raw: raw, reauth: &store.SessionReauth{SessionID: prev.ID, Subject: sub,
			CookieKey: h.Cookies.CurrentKey(c), NewCookieKey: key, AuthTime: at, AMR: amr, ExpiresAt: sess.ExpiresAt}}, nil
	}
	return &newSessionData{sess: &sso.Session{ID: key, Subject: sub, AuthTime: at, AMR: amr, CreatedAt: now, LastSeen: now,
		ExpiresAt: expires}, raw: raw, prev: prev}, nil
}

// endPrevious ends the browser's previous session (nil: none) that a new one replaces; its apps
// get back-channel logout.
func (h *Handler) endPrevious(ctx context.Context, prev *sso.Session) error {
	if prev == nil {
		return nil
	}
	if err := h.EndSession(ctx, prev); err != nil {
		return fmt.Errorf("end the browser's previous session: %w", err)
	}
	return nil
}

// writeSession stores a new session, or signs the browser's session in again (ns.reauth). The
// caller puts it in the cookie (putCookie) once nothing can end it any more.
func (h *Handler) writeSession(ctx context.Context, ns *newSessionData) error {
	if ns.reauth == nil {
		if err := h.Store.CreateSession(ctx, ns.sess); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	}
	err := h.Store.ReauthenticateSession(ctx, ns.reauth)
	if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
		return h.reauthLost(ctx, ns)
	}
	if err != nil {
		return fmt.Errorf("sign the session in again: %w", err)
	}
	return nil
}

// putCookie puts ns's new cookie value in the cookie; none when a lost re-authentication left
// the cookie to the sign-in that won (reauthLost).
func (h *Handler) putCookie(c echo.Context, ns *newSessionData) error {
	if ns.raw == "" {
		return nil
	}
	if err := h.Cookies.Set(c, ns.raw); err != nil {
		return fmt.Errorf("save cookie: %w", err)
	}
	return nil
}

// reauthLost goes on after ns.reauth's compare-and-set changed nothing (ReauthenticateSession,
// or CompleteSignIn's), without trying it again: another tab of this browser signed the same
// session in again first (its response carries the cookie value that now opens the session), or
// the session ended meanwhile. In the first case this sign-in goes on with the session as that
// one left it, and the cookie is left alone (ns.raw emptied); in the second it writes a new
// session (no previous one to end), which the caller puts in the cookie (putCookie). ns.sess is
// updated in place (callers compare it).
func (h *Handler) reauthLost(ctx context.Context, ns *newSessionData) error {
	cur, err := h.Store.Session(ctx, ns.reauth.SessionID)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("session signed in again elsewhere: %w", err)
	}
	ns.reauth = nil
	if cur != nil && cur.Subject == ns.sess.Subject {
		*ns.sess = *cur
		ns.raw = ""
		return nil
	}
	now := h.Now()
	ns.sess.ID, ns.sess.Clients, ns.sess.CreatedAt = session.Key(ns.raw), nil, now
	if err := h.Store.CreateSession(ctx, ns.sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Member re-reads the member behind a session and checks they may still sign in.
func (h *Handler) Member(ctx context.Context, sess *sso.Session) (*legacy.Member, error) {
	key, err := h.Subjects.MemberKey(ctx, sess.Subject)
	if err != nil {
		// Only a subject the store does not know is the member's (the session names nobody
		// who may sign in). Any other error, a busy database, a fail-over, a query's deadline,
		// is the server's: the callers render it as one and end nothing, deny nothing.
		if errors.Is(err, sso.ErrNotFound) {
			return nil, fmt.Errorf("%w: %v", sso.ErrAccessDenied, err)
		}
		return nil, fmt.Errorf("member of the session: %w", err)
	}
	m, err := h.Directory.MemberByKey(ctx, key)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) {
			return nil, fmt.Errorf("%w: member gone", sso.ErrAccessDenied)
		}
		return nil, err
	}
	if err := h.Access.Decide(ctx, m, sess.Subject, access.AnyClient, h.Now()).Err(); err != nil {
		return nil, err
	}
	// A session opened with the AMS password ends when the AMS records a change of that
	// password after its sign-in: whoever knew the old one keeps nothing (the refresh grant
	// checks the same, hooks.CheckSignIn).
	if hooks.PasswordSignInStale(m, sess.AuthTime, sess.AMR) {
		return nil, fmt.Errorf("%w: password changed after the session's sign-in", sso.ErrAccessDenied)
	}
	return m, nil
}

// Finish runs the steps after authentication: consent, then completion of the auth request.
func (h *Handler) Finish(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) error {
	return h.EndedOr(c, h.finish(c, ar, client, sess, m))
}

func (h *Handler) finish(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) error {
	ctx := c.Request().Context()
	// Every way out but the completion writes a fresh session first (openFresh).
	if d := h.Access.Decide(ctx, m, sess.Subject, client.ID, h.Now()); !d.Allowed() {
		if err := h.openFreshRefused(c, ar); err != nil {
			return err
		}
		return h.refused(c, ar, client, sess.Subject, d)
	}
	if need, err := h.needsConsent(ctx, ar, client, sess.Subject); err != nil {
		return h.openFreshOr(c, err)
	} else if need {
		if f := fresh(c); f != nil && f.sess == sess && !slices.Contains(ar.Prompt, oidc.PromptNone) {
			// A new sign-in waits for the consent without a session (holdForConsent).
			return h.holdForConsent(c, ar, f)
		}
		if err := h.openFresh(c); err != nil {
			return err
		}
		if slices.Contains(ar.Prompt, oidc.PromptNone) {
			return h.redirectError(c, ar, &oidc.Error{ErrorType: "consent_required", Description: "the member has not consented to this app"})
		}
		h.labels.put(sess.ID, MemberLabel(m), h.Now()) // the consent page names them without reading them again
		return c.Redirect(http.StatusSeeOther, "/consent?id="+ar.ID)
	}
	return h.complete(c, ar, client, sess, m)
}

// FinishSignIn is Finish for a new sign-in that passed every factor it needs (the second-factor
// step): its session is written with the completion of ar (one transaction), or when the sign-in
// stops before (ev is its login.success audit row).
func (h *Handler) FinishSignIn(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, m *legacy.Member, amr []string, ev *store.AuditEvent) error {
	return h.FinishSignInWith(c, ar, client, m, amr, ev, SignInOptions{})
}

// FinishSignInWith is FinishSignIn for a sign-in that brings more (an upstream sign-in, an
// earlier auth time): a new sign-in through an upstream provider, or a passkey, goes on to its
// request this way, its session written only with (or after winning) the request's
// compare-and-set.
func (h *Handler) FinishSignInWith(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, m *legacy.Member, amr []string, ev *store.AuditEvent, o SignInOptions) error {
	sess, err := h.startFreshSessionWith(c, m, amr, ev, o)
	if err != nil {
		return err
	}
	return h.Finish(c, ar, client, sess, m)
}

// complete is every entry point's last step: the checks that do not depend on the entry point
// (a pending request, a session that answers it, its second factor), then the transition
// pending -> completed.
func (h *Handler) complete(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) error {
	ctx := c.Request().Context()
	// Every way out but the completion writes a fresh session first (openFresh).
	if ar.Done || !h.sessionAnswers(ar, sess) {
		if err := h.openFresh(c); err != nil {
			return err
		}
	}
	if ar.Done {
		return h.RequestStateError(c, ar, nil, sso.ErrAuthRequestUsed)
	}
	if !h.sessionAnswers(ar, sess) {
		// The request asks for a new sign-in this session has not given: the login page asks.
		return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
	}
	if ar.HintSubject != "" && subtle.ConstantTimeCompare([]byte(sess.Subject), []byte(ar.HintSubject)) != 1 {
		// The client named the member it expects (id_token_hint) and another one signed in:
		// OIDC Core 3.1.2.1 answers that with an error, not with a code for someone else (a
		// client re-authenticating its member before a sensitive step would take it as theirs).
		if err := h.openFresh(c); err != nil {
			return err
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "authorize.hint_mismatch", Subject: sess.Subject, ClientID: ar.ClientID, IP: c.RealIP(),
			Detail: "another member signed in than the id_token_hint names"})
		return h.redirectError(c, ar, oidc.ErrLoginRequired().WithDescription("the member who signed in is not the one the app named (id_token_hint)"))
	}
	if h.SecondFactor != nil {
		need, err := h.SecondFactor.NeedsStepUp(ctx, ar, client, sess, m)
		if err != nil {
			return h.openFreshOr(c, err)
		}
		if need {
			if err := h.openFresh(c); err != nil {
				return err
			}
			if slices.Contains(ar.Prompt, oidc.PromptNone) {
				return h.redirectError(c, ar, oidc.ErrInteractionRequired().WithDescription("a second factor is required"))
			}
			next, err := h.SecondFactor.StartStepUp(c, ar, sess)
			if err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	// Shadow user at the client: delivered now when the client asks for synchronous
	// provisioning (a failure issues no code), else queued.
	if err := h.Provision(ctx, ar.ClientID, sess.Subject, nil); err != nil {
		if err := h.openFresh(c); err != nil {
			return err
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "provisioning.failure", Subject: sess.Subject, ClientID: ar.ClientID, IP: c.RealIP(), Detail: "sync"})
		if slices.Contains(ar.Prompt, oidc.PromptNone) {
			// No page for a silent request: the app hears that it may ask again later.
			return h.faultRedirect(c, ar, &oidc.Error{ErrorType: "temporarily_unavailable",
				Description: "the app's account could not be set up; try again later"})
		}
		return h.Pages.Error(c, http.StatusBadGateway, "The app could not set up your account",
			"You signed in, but the app could not create or update your account there, so it cannot let you in yet.",
			"Please try again in a few minutes. If it keeps happening, contact the association.")
	}
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return h.openFreshOr(c, fmt.Errorf("request browser: %w", err))
	}
	// pending -> completed, once, for this browser: the subject, session and auth time are
	// fixed for good here.
	completion := sso.Completion{Subject: sess.Subject, AuthTime: sess.AuthTime, AMR: sess.AMR, SessionID: sess.ID, Browser: browser}
	if f := fresh(c); f != nil && f.sess == sess {
		// With the session's writes, in one transaction.
		if err := h.completeFresh(c, f, ar, completion); !errors.Is(err, errReauthLost) {
			return err
		}
		// Written as another tab's re-authentication left the session (or anew): completed
		// with it the usual way, if it answers the request.
		if !h.sessionAnswers(ar, sess) {
			return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
		}
		completion = sso.Completion{Subject: sess.Subject, AuthTime: sess.AuthTime, AMR: sess.AMR, SessionID: sess.ID, Browser: browser}
	}
	next, err := h.Provider.Complete(ctx, ar.ID, completion)
	if err != nil {
		if errors.Is(err, sso.ErrAuthRequestUsed) || errors.Is(err, sso.ErrAuthRequestElsewhere) || errors.Is(err, sso.ErrNotFound) {
			return h.RequestStateError(c, ar, nil, err)
		}
		return err
	}
	if err := h.Store.AddSessionClient(ctx, sess.ID, ar.ClientID, h.Now()); err != nil {
		return fmt.Errorf("record session client: %w", err)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// Callback guards op's authorize callback (which issues the code): only the browser whose
// SSO session completed the auth request may collect its code, so a sign-in link completed in a
// member's browser cannot be redeemed from another browser.
func (h *Handler) Callback(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		// Exactly one id, in the query of a GET: op reads r.Form, so the request it sees is
		// rebuilt to carry that id only (no body, no second id).
		ids := r.URL.Query()["id"]
		if r.Method != http.MethodGet || len(ids) != 1 || r.ContentLength > 0 {
			return h.Pages.Error(c, http.StatusBadRequest, "This sign-in cannot be completed",
				"The request to finish the sign-in was not in the expected form.", "Go back to the app and start signing in again.")
		}
		id := ids[0]
		ar, err := h.Provider.AuthRequest(r.Context(), id)
		if err != nil {
			if !errors.Is(err, sso.ErrNotFound) {
				// The store could not say: a server error (logged, its page), not "expired".
				return fmt.Errorf("load auth request: %w", err)
			}
			return h.Expired(c)
		}
		// The session must still be live: one ended since it completed the request (signed out
		// elsewhere, by an administrator, the member disabled) gets no code.
		sess, serr := h.Cookies.Current(c)
		if serr != nil && !errors.Is(serr, sso.ErrNotFound) {
			return fmt.Errorf("callback session: %w", serr)
		}
		if !ar.Done || ar.SessionID == "" || sess == nil || subtle.ConstantTimeCompare([]byte(sess.ID), []byte(ar.SessionID)) != 1 {
			h.Audit.Anonymous(r.Context(), &store.AuditEvent{Event: "authorize.callback_refused", ClientID: ar.ClientID, IP: c.RealIP(),
				Detail: "callback from a browser that did not complete the sign-in"})
			return h.Pages.Error(c, http.StatusForbidden, "This sign-in cannot be completed here",
				"The sign-in was finished in another browser, or has not been finished yet.", "Go back to the app and start signing in again.")
		}
		r2 := r.Clone(sso.WithAuthRequest(r.Context(), ar)) // op's callback reads it from there
		u := *r.URL
		u.RawQuery = url.Values{"id": {id}}.Encode()
		r2.URL, r2.RequestURI = &u, u.RequestURI()
		r2.Body, r2.ContentLength, r2.Form, r2.PostForm = http.NoBody, 0, nil, nil
		c.SetRequest(r2)
		return next(c)
	}
}

// refused answers a member whom the access decision d does not admit at client: accessFault
// when the client's access rule could not be evaluated, else accessDenied.
func (h *Handler) refused(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string, d access.Decision) error {
	if d.Fault() {
		return h.accessFault(c, ar, client, subject, d)
	}
	return h.accessDenied(c, ar, client, subject)
}

// accessFault answers a member whom the client's access rule could not decide (it failed to
// evaluate: the operator's fault, review s25 Y-10). Refused (no code), but as a server fault:
// audited and logged with the rule and a fixed class of its error (access.RuleFaultError; the
// member by subject only, never the error's text, review s26 R2-3); the member's page
// says the app cannot be opened now (500), a silent request (prompt=none) hears server_error.
// A device's request is left pending (not denied): the device keeps polling and may be
// approved once the rule is mended.
func (h *Handler) accessFault(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string, d access.Decision) error {
	h.Audit.Write(c.Request().Context(), &store.AuditEvent{Event: "access.rule_error", Subject: subject, ClientID: client.ID, IP: c.RealIP(),
		Detail: d.Err().Error()})
	if !h.isDeviceRequest(ar) && slices.Contains(ar.Prompt, oidc.PromptNone) {
		return h.faultRedirect(c, ar, oidc.ErrServerError().WithDescription("the app's access rule could not be evaluated"))
	}
	return h.Pages.AccessRuleFault(c, client.Name)
}

// accessDenied answers a member whom the client's access rule does not admit: a clear page and
// no code; with prompt=none the client gets access_denied.
func (h *Handler) accessDenied(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, subject string) error {
	h.Audit.Write(c.Request().Context(), &store.AuditEvent{Event: "access.denied", Subject: subject, ClientID: client.ID, IP: c.RealIP(), Detail: "access rule"})
	if h.isDeviceRequest(ar) {
		// A device's request (RFC 8628): it is denied, so the device hears access_denied at its
		// next poll (3.5) instead of authorization_pending until the code expires; the member
		// sees why on the page below.
		if err := h.denyDevice(c, ar); err != nil {
			return err
		}
	} else if slices.Contains(ar.Prompt, oidc.PromptNone) {
		return h.redirectError(c, ar, oidc.ErrAccessDenied().WithDescription("the member may not use this app"))
	}
	return h.notAvailable(c, client)
}

// notAvailable renders the page that tells a member the access rule refuses client, and
// changes nothing (accessDenied decides).
func (h *Handler) notAvailable(c echo.Context, client *sso.ClientConfig) error {
	return h.Pages.Error(c, http.StatusForbidden, "This app is not available with your membership",
		client.Name+" is only open to members whose membership allows it, and yours does not at the moment.",
		"If you think this is wrong, for example because you have just renewed, please contact the association.")
}

// denyDevice denies the device authorization of the internal request ar, as its error
// response at PathDeviceDone would, and ends the request. A device authorization decided or
// expired meanwhile is left as it is.
func (h *Handler) denyDevice(c echo.Context, ar *sso.AuthRequest) error {
	ctx := c.Request().Context()
	raw, err := h.Provider.ErrorRedirect(ar, oidc.ErrAccessDenied().WithDescription("the member may not use this app"))
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("device denial: %w", err)
	}
	if _, _, err := h.Provider.DeviceDone(ctx, u.Query()); err != nil && !errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("device denial: %w", err)
	}
	if err := h.Store.DeleteAuthRequest(ctx, ar.ID); err != nil && !errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("end denied device request: %w", err)
	}
	return nil
}

// redirectError sends an OAuth error back to the client's validated redirect_uri. That is the
// request's one authorization response: the request ends first (nothing can complete it
// afterwards, and a completion that raced it gets no code). A request that is no browser
// navigation gets the error in JSON instead, and the request is left (answerNotNavigation).
func (h *Handler) redirectError(c echo.Context, ar *sso.AuthRequest, e *oidc.Error) error {
	if !navigation(c) {
		return h.answerNotNavigation(c, ar, e)
	}
	u, err := h.Provider.ErrorRedirect(ar, e)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteAuthRequest(c.Request().Context(), ar.ID); err != nil {
		return fmt.Errorf("end answered auth request: %w", err)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// silentFault answers a silent request (prompt=none) that a fault stopped (err, returned by the
// handler and not yet answered: the AMS or the store could not answer, at the session's read,
// the consent's, the second factor's, the completion's write...): no page may be shown, and
// nobody would see one in the hidden iframe or background redirect it runs in, so the app hears
// an authentication error response at its redirect_uri (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1,
// with iss per RFC 9207) and can try again later instead of waiting for an answer that never
// comes: temporarily_unavailable when the AMS or the store was unavailable, else server_error.
// The fault is logged as its page's would be. Any other request, a client error (4xx) or a
// response already written is left to the caller.
func (h *Handler) silentFault(c echo.Context, ar *sso.AuthRequest, err error) error {
	if err == nil || !slices.Contains(ar.Prompt, oidc.PromptNone) || c.Response().Committed {
		return err
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < http.StatusInternalServerError {
		return err
	}
	h.Logger.ErrorContext(c.Request().Context(), "silent sign-in failed; the app is told", "err", err, "client", ar.ClientID, "prompt", "none")
	e := oidc.ErrServerError().WithDescription("the sign-in could not be completed; try again later")
	if errors.Is(err, legacy.ErrUnavailable) || errors.Is(err, sso.ErrUnavailable) {
		e = &oidc.Error{ErrorType: "temporarily_unavailable", Description: "the sign-in service cannot answer now; try again later"}
	}
	if ferr := h.faultRedirect(c, ar, e); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// faultRedirect is redirectError for an answer to a fault: the request is ended if the store
// lets it (the fault may be the store's own, and the answer must reach the app all the same;
// a request left pending expires, and no browser is sent to it), then the app is told; a
// request that is no browser navigation gets the error in JSON (answerNotNavigation).
func (h *Handler) faultRedirect(c echo.Context, ar *sso.AuthRequest, e *oidc.Error) error {
	if !navigation(c) {
		return h.answerNotNavigation(c, ar, e)
	}
	u, err := h.Provider.ErrorRedirect(ar, e)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteAuthRequest(c.Request().Context(), ar.ID); err != nil && !errors.Is(err, sso.ErrNotFound) {
		h.Logger.ErrorContext(c.Request().Context(), "end answered auth request; left to expire", "err", err, "client", ar.ClientID)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// navigation reports whether c is a browser navigation (a page opened, a form posted, the hidden
// iframe or the background redirect of a silent sign-in), the only request whose answer can
// carry an authorization response to the app: the browser follows a 303 to the redirect_uri as
// the app's page. A caller that asks for JSON (Accept: application/json: a script's fetch or
// XHR, such as the sign-in page's passkey script, web.WantsJSON) or that the browser says is
// no navigation (Fetch Metadata's Sec-Fetch-Mode other than navigate: a fetch, an XHR, an
// image or script loaded from a page) is not one; neither is a program calling the pages.
// Browsers that send no Sec-Fetch-Mode are taken at their Accept header. Chrome's early
// "nested-navigate" (an iframe's navigation) is a navigation.
func navigation(c echo.Context) bool {
	if web.WantsJSON(c) {
		return false
	}
	switch c.Request().Header.Get("Sec-Fetch-Mode") {
	case "", "navigate", "nested-navigate":
		return true
	}
	return false
}

// answerNotNavigation answers the authorization error e of ar (redirectError, faultRedirect)
// for a request that is no browser navigation (navigation): never a redirect to the app (a
// script's fetch would follow it to the redirect_uri, and the app's page would never get the
// answer it waits for), but an RFC 6749 style JSON error (error, error_description; 500 for
// server_error, 503 with Retry-After for temporarily_unavailable, 403 for access_denied, else
// 400), and the request is left as it is: its one authorization response is still owed to
// the app, by the navigation that can carry it (or it expires). Nothing of the request is in
// the answer (no state, no id).
func (h *Handler) answerNotNavigation(c echo.Context, ar *sso.AuthRequest, e *oidc.Error) error {
	status := http.StatusBadRequest
	switch e.ErrorType {
	case oidc.ServerError:
		status = http.StatusInternalServerError
	case "temporarily_unavailable":
		status = http.StatusServiceUnavailable
		c.Response().Header().Set("Retry-After", sso.UnavailableRetryAfter)
	case oidc.AccessDenied:
		status = http.StatusForbidden
	}
	h.Logger.InfoContext(c.Request().Context(), "authorization error for a request that is no browser navigation: answered in JSON, the sign-in request left pending",
		"client", ar.ClientID, "error", string(e.ErrorType))
	return web.JSONError(c, status, string(e.ErrorType), e.Description)
}

// errTemporarilyUnavailable is RFC 6749 4.1.2.1's temporarily_unavailable (op has no
// constructor for it): the membership system cannot be reached now, the app may ask again.
func errTemporarilyUnavailable() *oidc.Error {
	return &oidc.Error{ErrorType: "temporarily_unavailable",
		Description: "the membership system cannot be reached; try again later"}
}

func humanDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Seconds())+1)
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes())+1)
}
