package upstream

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	up "github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of upstream sign-in ({name}: the provider's configured name).
const (
	PathStart       = "/upstream/:name/start"
	PathCallback    = "/upstream/:name/callback"
	PathBackchannel = "/upstream/:name/backchannel-logout"
	PathLink        = "/upstream/link"
	PathAccount     = "/account/upstream"
)

// CallbackURL is the redirect URI to register at a provider.
func CallbackURL(issuer, name string) string { return issuer + "/upstream/" + name + "/callback" }

// BackchannelURL is the back-channel logout URI to register at a provider.
func BackchannelURL(issuer, name string) string {
	return issuer + "/upstream/" + name + "/backchannel-logout"
}

// AMR is the authentication method of a session signed in through an upstream provider.
const AMR = "fed"

// loginLifetime bounds a pending upstream sign-in (the member at the provider, then perhaps
// typing their AMS password to link).
const loginLifetime = 15 * time.Minute

// Store is what upstream sign-in keeps: the pending sign-ins, the links and the sessions they
// started, the replay guard of logout tokens, and the sessions it ends.
type Store interface {
	store.UpstreamStore
	UseHandoffToken(ctx context.Context, hash string, expires time.Time) error
	ShortenHandoffToken(ctx context.Context, hash string, until time.Time) error
	Session(ctx context.Context, id string) (*sso.Session, error)
}

// Subjects maps member keys to subjects and back (identity.SubjectMapper).
type Subjects interface {
	Subject(memberKey string) string
	MemberKey(ctx context.Context, sub string) (string, error)
}

// Handler serves upstream sign-in, linking and upstream back-channel logout. Every field is
// required unless its comment says otherwise.
type Handler struct {
	Pages     *web.Renderer
	Cookies   *session.Cookies
	Flow      *authflow.Handler
	Providers *up.Providers
	Store     Store
	// Directory finds the member behind a link (and by e-mail: legacy.EmailFinder, optional).
	Directory legacy.MemberLookup
	Subjects  Subjects
	// SignIn checks the AMS password that links an identity.
	SignIn authflow.PasswordChecker
	Audit  *audit.Log
	// EndSession ends a bridge session and queues its back-channel logouts.
	EndSession func(context.Context, *sso.Session) error
	// Key derives the nonce and PKCE verifier of each state (an installation secret).
	Key []byte
	// LimitAnonymous rate-limits an endpoint that writes for an anonymous caller.
	LimitAnonymous  func(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc
	SessionLifetime time.Duration
	Logger          *slog.Logger
	Now             func() time.Time
	// Observer counts upstream sign-ins by outcome (metrics; method signin.MethodUpstream). Optional.
	Observer signin.Observer
}

// observe counts an upstream sign-in's outcome: signin.OutcomeOK, or a short fixed code.
func (h *Handler) observe(outcome string) {
	if h.Observer != nil {
		h.Observer.SignIn(signin.MethodUpstream, outcome)
	}
}

// Mount adds the upstream routes.
func (h *Handler) Mount(e *echo.Echo) {
	e.POST(PathStart, h.LimitAnonymous("upstream", false, h.start))
	e.GET(PathCallback, h.callback)
	e.POST(PathLink, h.LimitAnonymous("upstream-link", false, h.link))
	e.POST(PathAccount, h.account)
	e.POST(PathBackchannel, h.LimitAnonymous("upstream-logout", true, h.backchannel))
}

// Buttons are the login page's buttons, one per provider.
func Buttons(ps *up.Providers) []web.UpstreamButton {
	var out []web.UpstreamButton
	for _, p := range ps.List() {
		out = append(out, web.UpstreamButton{Name: p.Name(), Label: p.DisplayName()})
	}
	return out
}

func stateID(state string) string { return sso.HashToken("upstream-state:" + state) }

// start sends the browser to the provider for the pending sign-in request (form id) or, from
// the account page, to link an identity to the signed-in member.
func (h *Handler) start(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	p, ok := h.Providers.Get(c.Param("name"))
	if !ok {
		return h.Pages.Error(c, http.StatusNotFound, "Not available", "That way of signing in is not set up.", "")
	}
	ar, _, err := h.Flow.PendingRequest(c, c.FormValue("id"))
	if ar == nil {
		return err
	}
	return h.redirect(c, p, &store.UpstreamLogin{AuthRequestID: ar.ID}, reauth(ar))
}

// reauth is what the app's request asks of the member's authentication (prompt=login,
// max_age), forwarded to the provider and checked on its answer.
func reauth(ar *sso.AuthRequest) up.Reauth {
	if ar == nil {
		return up.Reauth{}
	}
	return up.Reauth{Login: slices.Contains(ar.Prompt, "login"), MaxAge: ar.MaxAge}
}

// redirect records the pending upstream sign-in (bound to this browser) and sends the browser
// to the provider.
func (h *Handler) redirect(c echo.Context, p *up.Provider, l *store.UpstreamLogin, re up.Reauth) error {
	ctx := c.Request().Context()
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return fmt.Errorf("request browser: %w", err)
	}
	state := sso.RandomToken()
	now := h.Now()
	l.ID, l.Provider, l.State, l.Browser, l.CreatedAt, l.ExpiresAt = stateID(state), p.Name(), store.UpstreamStarted, browser, now, now.Add(loginLifetime)
	u, err := p.AuthURL(ctx, state, up.Nonce(h.Key, state), up.Verifier(h.Key, state), re)
	if err != nil {
		return h.providerError(c, p, l.AuthRequestID, err)
	}
	if err := h.Store.CreateUpstreamLogin(ctx, l); err != nil {
		return fmt.Errorf("create upstream login: %w", err)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// back is the way back to the sign-in request's login page ("" without one).
func back(authRequestID string) (link, text string) {
	if authRequestID == "" {
		return "/account", "Back to your account"
	}
	return "/login?id=" + url.QueryEscape(authRequestID), "Sign in another way"
}

func (h *Handler) page(c echo.Context, status int, authRequestID, heading, msg, hint string) error {
	d := h.Pages.ErrorData(c, heading, msg, hint)
	d.Link, d.LinkText = back(authRequestID)
	return h.Pages.Render(c, status, "error", d)
}

// providerError explains a failure of the provider or of its answer.
func (h *Handler) providerError(c echo.Context, p *up.Provider, authRequestID string, err error) error {
	ctx := c.Request().Context()
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "upstream.failure", IP: c.RealIP(), Detail: p.Name() + ": " + reason(err)})
	h.observe(strings.ReplaceAll(reason(err), " ", "_"))
	h.Logger.WarnContext(ctx, "upstream sign-in failed", "provider", p.Name(), "err", err)
	switch {
	case errors.Is(err, up.ErrWrongIssuer):
		return h.page(c, http.StatusBadGateway, authRequestID, "This sign-in cannot be trusted",
			"The answer did not come from "+p.DisplayName()+" as configured, so we did not use it.",
			"Try again. If it keeps happening, tell the association: the sign-in service's settings for "+p.DisplayName()+" may be wrong.")
	case errors.Is(err, up.ErrInvalid):
		return h.page(c, http.StatusBadRequest, authRequestID, "This sign-in could not be checked",
			"The answer from "+p.DisplayName()+" did not pass our checks, so we did not use it.",
			"Start signing in again.")
	}
	return h.page(c, http.StatusBadGateway, authRequestID, p.DisplayName()+" cannot be reached",
		"We cannot reach "+p.DisplayName()+" right now, so we cannot sign you in with it.",
		"Try again in a few minutes, or sign in another way.")
}

func reason(err error) string {
	switch {
	case errors.Is(err, up.ErrWrongIssuer):
		return "wrong issuer"
	case errors.Is(err, up.ErrInvalid):
		return "invalid answer"
	case errors.Is(err, up.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// expired is the page for a callback whose pending sign-in is unknown, expired or finished.
func (h *Handler) expired(c echo.Context, detail string) error {
	h.observe("expired")
	h.Audit.Anonymous(c.Request().Context(), &store.AuditEvent{Event: "upstream.refused", IP: c.RealIP(), Detail: detail})
	return h.Flow.Expired(c)
}

// pending loads the pending upstream sign-in named by a raw state and checks that it belongs
// to this browser; nil (and the page rendered) when it does not.
func (h *Handler) pending(c echo.Context, state string) (*store.UpstreamLogin, error) {
	if state == "" || len(state) > 256 {
		return nil, h.expired(c, "no state")
	}
	l, err := h.Store.UpstreamLogin(c.Request().Context(), stateID(state))
	if errors.Is(err, sso.ErrNotFound) {
		return nil, h.expired(c, "unknown or expired state")
	}
	if err != nil {
		return nil, fmt.Errorf("upstream login: %w", err)
	}
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return nil, fmt.Errorf("request browser: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(l.Browser), []byte(browser)) != 1 {
		return nil, h.expired(c, "state from another browser")
	}
	return l, nil
}

// callback takes the provider's authorization response, once: it validates it, records the
// upstream identity, and signs the member in (a linked identity), links it (the account page,
// or automatically by verified e-mail when the provider allows) or asks for the AMS password.
func (h *Handler) callback(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	for _, k := range []string{"state", "code", "iss", "error"} {
		if len(q[k]) > 1 {
			return h.expired(c, "repeated parameter "+k)
		}
	}
	l, err := h.pending(c, q.Get("state"))
	if l == nil {
		return err
	}
	p, ok := h.Providers.Get(c.Param("name"))
	if !ok || p.Name() != l.Provider {
		// The answer came back at another provider's callback than the one the sign-in was sent
		// to: a mix-up.
		return h.providerError(c, h.providerOr(l.Provider, p), l.AuthRequestID,
			fmt.Errorf("%w: callback of %q for a sign-in at %q", up.ErrWrongIssuer, c.Param("name"), l.Provider))
	}
	if l.State != store.UpstreamStarted {
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "upstream.refused", IP: c.RealIP(), Detail: p.Name() + ": callback replayed"})
		h.observe("replayed")
		return h.Pages.Error(c, http.StatusConflict, "This sign-in was already used",
			"The answer from "+p.DisplayName()+" was already used once, so it cannot be used again.",
			"Go back to the app and start signing in again.")
	}
	// The app's sign-in request first (one from the account page links, and has none): when
	// it is gone (expired, or removed) or finished already (signed in another way meanwhile),
	// nothing this callback could do would finish it, so the provider is not asked, no link is
	// looked up or written and no member read: the sign-in ends here with the request's page.
	var ar *sso.AuthRequest
	if l.LinkSubject == "" {
		ar, err = h.Flow.Provider.AuthRequest(ctx, l.AuthRequestID)
		if err == nil && ar.Done {
			err = sso.ErrAuthRequestUsed
		}
		if errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrAuthRequestUsed) {
			_ = h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone})
			h.observe("expired")
			h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "upstream.refused", IP: c.RealIP(), Detail: p.Name() + ": sign-in request gone or finished"})
			return h.Flow.RequestStateError(c, ar, nil, err)
		}
		if err != nil {
			return fmt.Errorf("load auth request: %w", err)
		}
	}
	if e := q.Get("error"); e != "" {
		_ = h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone})
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "upstream.failure", IP: c.RealIP(), Detail: p.Name() + ": " + truncate(e, 64)})
		h.observe("upstream_refused")
		if e == "access_denied" {
			return h.page(c, http.StatusForbidden, l.AuthRequestID, "You did not sign in with "+p.DisplayName(),
				p.DisplayName()+" says the sign-in was cancelled or not allowed, so you are not signed in.",
				"You can try again, or sign in another way.")
		}
		return h.page(c, http.StatusBadGateway, l.AuthRequestID, p.DisplayName()+" did not sign you in",
			p.DisplayName()+" could not complete the sign-in.", "You can try again, or sign in another way.")
	}
	state := q.Get("state")
	_, issPresent := q["iss"]
	id, err := p.Exchange(ctx, up.Callback{Code: q.Get("code"), Iss: q.Get("iss"), IssPresent: issPresent},
		up.Nonce(h.Key, state), up.Verifier(h.Key, state))
	if err != nil {
		_ = h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone})
		return h.providerError(c, p, l.AuthRequestID, err)
	}
	// started -> returned, once: a callback that raced this one gets the replay page.
	ret := &store.UpstreamLogin{State: store.UpstreamReturned, Issuer: id.Issuer, UpstreamSubject: id.Subject,
		Email: truncate(id.Email, 256), UpstreamSID: truncate(id.SID, 256)}
	if err := h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamStarted, ret); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			return h.expired(c, p.Name()+": callback raced or expired")
		}
		return fmt.Errorf("upstream login returned: %w", err)
	}
	l.State, l.Issuer, l.UpstreamSubject, l.Email, l.UpstreamSID = ret.State, ret.Issuer, ret.UpstreamSubject, ret.Email, ret.UpstreamSID

	if l.LinkSubject != "" {
		return h.linkSignedIn(c, p, l)
	}
	// The app asked for a fresh or recent sign-in (prompt=login, max_age): the provider was
	// asked for one too, and its ID token must show it (auth_time), else its live session
	// would answer for a member who typed nothing. Without it a linked identity is refused
	// (the login page's password form is one click away) and an unlinked one is not linked by
	// e-mail: the member types their AMS password.
	fresh := reauth(ar).Fresh(id.AuthTime, l.CreatedAt, h.Now())
	req := &loadedRequest{ar: ar}
	link, err := h.upstreamLink(ctx, p, id.Issuer, id.Subject)
	switch {
	case err == nil && fresh != nil:
		_ = h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone})
		h.Audit.Write(ctx, &store.AuditEvent{Event: "login.failure", Subject: link.Subject, IP: c.RealIP(), Detail: p.Name() + ": " + fresh.Error()})
		h.observe("not_fresh")
		return h.page(c, http.StatusForbidden, l.AuthRequestID, "Please sign in again",
			"The app asked you to sign in again, and "+p.DisplayName()+" did not ask you to, so we did not use its answer.",
			"Sign in with your username and password, or try "+p.DisplayName()+" again.")
	case err == nil:
		return h.signInLinked(c, p, l, req, link.Subject, p.AMR(id.AMR), up.SessionAuthTime(id.AuthTime, l.CreatedAt, h.Now()))
	case !errors.Is(err, sso.ErrNotFound):
		return fmt.Errorf("upstream link: %w", err)
	}
	if p.LinksByEmail(id) && fresh == nil {
		m, err := h.memberByEmail(ctx, id.Email)
		if err != nil && !errors.Is(err, errNoUniqueMember) {
			h.observe(legacy.Reason(err))
			return h.Pages.MembershipUnavailable(c, h.Logger, err)
		}
		if m != nil {
			return h.linkAndSignIn(c, p, l, req, m, p.AMR(id.AMR), "email", up.SessionAuthTime(id.AuthTime, l.CreatedAt, h.Now()))
		}
	}
	return h.askPassword(c, p, l, state, "", http.StatusOK)
}

// loadedRequest is a pending upstream sign-in's request as the callback read it (before
// anything else: a gone one ends the callback there), handed to finish so that it is not read
// again. A nil *loadedRequest is not read yet (the password form's POST, link).
type loadedRequest struct{ ar *sso.AuthRequest }

// pendingRequest is authflow's PendingRequest of l's request, read at most once per HTTP
// request (loaded: as read already, or nil).
func (h *Handler) pendingRequest(c echo.Context, l *store.UpstreamLogin, loaded *loadedRequest) (*sso.AuthRequest, *sso.ClientConfig, error) {
	if loaded == nil {
		return h.Flow.PendingRequest(c, l.AuthRequestID)
	}
	return h.Flow.PendingLoaded(c, loaded.ar)
}

// upstreamLink is the link of an upstream identity, under any spelling of its issuer that an
// older link may have been recorded with (up.Provider.IssuerSpellings).
func (h *Handler) upstreamLink(ctx context.Context, p *up.Provider, iss, sub string) (*store.UpstreamLink, error) {
	var err error
	for _, spelling := range p.IssuerSpellings(iss) {
		var link *store.UpstreamLink
		link, err = h.Store.UpstreamLink(ctx, spelling, sub)
		if !errors.Is(err, sso.ErrNotFound) {
			return link, err
		}
	}
	return nil, err
}

// providerOr is the provider named name, else p (for naming a provider on an error page).
func (h *Handler) providerOr(name string, p *up.Provider) *up.Provider {
	if q, ok := h.Providers.Get(name); ok {
		return q
	}
	return p
}

var errNoUniqueMember = errors.New("no single active member has this e-mail address")

// maxEmailMatches bounds the AMS records with one address that automatic linking looks
// through (inactive ones included) to find the single active member; with more it asks for the
// password.
const maxEmailMatches = 50

// memberByEmail is the one active AMS member with the address, or errNoUniqueMember (none,
// several, or a directory that cannot look addresses up).
func (h *Handler) memberByEmail(ctx context.Context, email string) (*legacy.Member, error) {
	f, ok := h.Directory.(legacy.EmailFinder)
	if !ok {
		return nil, errNoUniqueMember
	}
	ms, err := f.MembersByEmail(ctx, email, maxEmailMatches+1)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, errNoUniqueMember
	}
	if err != nil {
		return nil, err
	}
	if len(ms) > maxEmailMatches {
		// Not every record with the address was seen: another active one may be among them.
		return nil, errNoUniqueMember
	}
	var found *legacy.Member
	for _, m := range ms {
		if m.Standing.Check(h.Now(), 0) != nil {
			continue
		}
		if found != nil {
			return nil, errNoUniqueMember // ambiguous: ask for the password
		}
		found = m
	}
	if found == nil {
		return nil, errNoUniqueMember
	}
	return found, nil
}

type linkData struct {
	web.Page
	CSRF, Ref, Provider, Email, Login, Error, BackLink, BackText string
}

// askPassword shows the page that links the identity after the member's AMS password, once.
func (h *Handler) askPassword(c echo.Context, p *up.Provider, l *store.UpstreamLogin, state, msg string, status int) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	d := linkData{Page: h.Pages.Base("Link your account"), CSRF: csrf, Ref: state, Provider: p.DisplayName(),
		Email: l.Email, Login: c.FormValue("login"), Error: msg}
	d.BackLink, d.BackText = back(l.AuthRequestID)
	return h.Pages.Render(c, status, "upstream_link", d)
}

// link checks the AMS password once and links the returned upstream identity to that member.
func (h *Handler) link(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	state := c.FormValue("ref")
	l, err := h.pending(c, state)
	if l == nil {
		return err
	}
	p, ok := h.Providers.Get(l.Provider)
	if !ok || l.State != store.UpstreamReturned {
		return h.expired(c, "link of a sign-in not waiting for a password")
	}
	login, password, ip := c.FormValue("login"), c.FormValue("password"), c.RealIP()
	if len(login) > 256 || len(password) > 1024 {
		return h.askPassword(c, p, l, state, signin.BadCredentials, http.StatusBadRequest)
	}
	m, err := h.SignIn.Check(ctx, signin.Attempt{Login: login, Password: password, IP: ip, Detail: "upstream link",
		Method: signin.MethodUpstreamLink})
	var throttled *signin.ThrottledError
	if errors.As(err, &throttled) {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(throttled.RetryAfter.Seconds())+1))
		return h.askPassword(c, p, l, state, "Too many sign-in attempts. For your security, please wait a while and try again.",
			http.StatusTooManyRequests)
	}
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, legacy.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		} else if ctx.Err() != nil {
			return err
		}
		return h.askPassword(c, p, l, state, signin.Message(err), status)
	}
	return h.linkAndSignIn(c, p, l, nil, m, []string{"pwd", AMR}, "password", time.Time{}) // the password was typed now
}

// linkAndSignIn links the returned identity to m, then signs m in (loaded and authTime:
// finish).
func (h *Handler) linkAndSignIn(c echo.Context, p *up.Provider, l *store.UpstreamLogin, loaded *loadedRequest, m *legacy.Member, amr []string, how string, authTime time.Time) error {
	ctx := c.Request().Context()
	sub := h.Subjects.Subject(m.Key)
	err := h.Store.PutUpstreamLink(ctx, &store.UpstreamLink{Issuer: l.Issuer, UpstreamSubject: l.UpstreamSubject, Subject: sub,
		Provider: p.Name(), Email: l.Email, CreatedAt: h.Now()})
	if errors.Is(err, sso.ErrConflict) {
		// Linked meanwhile (another tab, or another member): only the same member goes on.
		link, lerr := h.Store.UpstreamLink(ctx, l.Issuer, l.UpstreamSubject)
		if lerr != nil || link.Subject != sub {
			h.observe("linked_to_another")
			return h.page(c, http.StatusConflict, l.AuthRequestID, "This account is linked to another member",
				"Your "+p.DisplayName()+" account is already linked to another membership, so it cannot be linked to this one.",
				"Sign in with your username and password, or contact the association.")
		}
	} else if err != nil {
		return fmt.Errorf("put upstream link: %w", err)
	} else {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "upstream.linked", Subject: sub, Login: m.Login, IP: c.RealIP(), Detail: p.Name() + " by " + how})
	}
	return h.finish(c, p, l, loaded, store.UpstreamReturned, m, amr, authTime)
}

// signInLinked signs in the member a linked identity belongs to, after the same AMS checks as a
// password sign-in (the member exists, may sign in, and the app admits them); loaded and
// authTime: finish.
func (h *Handler) signInLinked(c echo.Context, p *up.Provider, l *store.UpstreamLogin, loaded *loadedRequest, subject string, amr []string, authTime time.Time) error {
	ctx := c.Request().Context()
	key, err := h.Subjects.MemberKey(ctx, subject)
	if err != nil {
		return fmt.Errorf("linked subject: %w", err)
	}
	// A new sign-in sees the member as the AMS has them now, as a password check does
	// (Authenticate always asks the AMS): the profile cache may still hold a member the AMS
	// disabled a minute ago. Dropping the entry makes this read go to the AMS and refresh it.
	if c, ok := h.Directory.(interface{ Invalidate(key string) }); ok {
		c.Invalidate(key)
	}
	m, err := h.Directory.MemberByKey(ctx, key)
	if errors.Is(err, legacy.ErrNotFound) {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "login.failure", Subject: subject, IP: c.RealIP(), Detail: p.Name() + ": member gone"})
		h.observe(legacy.Reason(err))
		return h.page(c, http.StatusForbidden, l.AuthRequestID, "Your account cannot be used",
			"Your "+p.DisplayName()+" account is linked to a membership that no longer exists.", "Please contact the association.")
	}
	if err != nil {
		h.observe(legacy.Reason(err))
		return h.Pages.MembershipUnavailable(c, h.Logger, err)
	}
	return h.finish(c, p, l, loaded, store.UpstreamReturned, m, amr, authTime)
}

// finish ends the pending upstream sign-in (from -> done, once), checks the member's standing
// in the AMS, then goes on as a password sign-in does: the second-factor step first when the
// member or the app needs one (no session until it passes; the step opens it and records the
// upstream session with it), else the session and the sign-in request: the session is written
// only with (or after winning) the request's compare-and-set (authflow FinishSignInWith), as a
// password sign-in's, so two upstream sign-ins of one request
// (the button clicked twice), or one that comes back after the request finished, leave no
// session nobody holds and do not end the one that finished it.
//
// loaded is l's sign-in request as this HTTP request read it already (nil: not read),
// used instead of reading it again.
//
// authTime is when the member authenticated at the provider (up.SessionAuthTime of its ID
// token's auth_time; zero: now, the member typed their AMS password): the session's auth_time
// (OIDC Core 2),
// which a later max_age or prompt=login compares, not the time the provider's answer came
// back (the provider may have answered from a session days old). A sign-in through the
// second-factor step is authenticated when the member's factor is checked there; a step that
// checks none (the reset notice acknowledged, a first factor enrolled) keeps authTime
// (bridge/web/mfa, sign-in time).
func (h *Handler) finish(c echo.Context, p *up.Provider, l *store.UpstreamLogin, loaded *loadedRequest, from string, m *legacy.Member, amr []string, authTime time.Time) error {
	ctx := c.Request().Context()
	if err := h.Store.AdvanceUpstreamLogin(ctx, l.ID, from, &store.UpstreamLogin{State: store.UpstreamDone}); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			return h.expired(c, p.Name()+": sign-in finished twice")
		}
		return fmt.Errorf("upstream login done: %w", err)
	}
	sub := h.Subjects.Subject(m.Key)
	if d := h.Flow.Access.Decide(ctx, m, sub, "", h.Now()); !d.Allowed() {
		h.Audit.Write(ctx, &store.AuditEvent{Event: "login.failure", Subject: sub, Login: m.Login, IP: c.RealIP(), Detail: d.Reason + " via " + p.Name()})
		h.observe(d.Reason)
		return h.page(c, http.StatusForbidden, l.AuthRequestID, "You cannot sign in", d.Message, "")
	}
	// Every sign-in started here is for a request (start); one from the account page links
	// (linkSignedIn) and never comes here.
	ar, client, err := h.pendingRequest(c, l, loaded)
	if ar == nil {
		return err
	}
	ups := &store.UpstreamSession{Issuer: l.Issuer, UpstreamSubject: l.UpstreamSubject, UpstreamSID: l.UpstreamSID}
	h.observe(signin.OutcomeOK)
	if h.Flow.SecondFactor != nil {
		next, err := h.Flow.SecondFactor.AfterFirstFactor(c, &authflow.FirstFactor{AR: ar, Client: client, Member: m, AMR: amr,
			Upstream: ups, Detail: p.Name(), AuthTime: authTime})
		if err != nil {
			return err
		}
		if next != "" {
			// No session yet: the second-factor step opens it once passed.
			h.Audit.Write(ctx, &store.AuditEvent{Event: "login.first_factor_ok", Subject: sub, Login: m.Login, IP: c.RealIP(),
				Detail: strings.Join(amr, " ") + " " + p.Name() + ": second factor next"})
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	return h.Flow.FinishSignInWith(c, ar, client, m, amr,
		&store.AuditEvent{Event: "login.success", Login: m.Login, ClientID: client.ID, IP: c.RealIP(), Detail: strings.Join(amr, " ") + " " + p.Name()},
		authflow.SignInOptions{Upstream: ups, AuthTime: authTime})
}

// linkSignedIn links the returned identity to the signed-in member who asked on the account page.
func (h *Handler) linkSignedIn(c echo.Context, p *up.Provider, l *store.UpstreamLogin) error {
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err != nil || subtle.ConstantTimeCompare([]byte(sess.Subject), []byte(l.LinkSubject)) != 1 {
		_ = h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone})
		return h.page(c, http.StatusForbidden, "", "You are no longer signed in",
			"The account you asked to link from is not signed in here any more, so nothing was linked.", "Sign in and try again.")
	}
	if err := h.Store.AdvanceUpstreamLogin(ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone}); err != nil {
		return h.expired(c, p.Name()+": link finished twice")
	}
	err = h.Store.PutUpstreamLink(ctx, &store.UpstreamLink{Issuer: l.Issuer, UpstreamSubject: l.UpstreamSubject, Subject: sess.Subject,
		Provider: p.Name(), Email: l.Email, CreatedAt: h.Now()})
	if errors.Is(err, sso.ErrConflict) {
		if link, lerr := h.Store.UpstreamLink(ctx, l.Issuer, l.UpstreamSubject); lerr == nil && link.Subject == sess.Subject {
			return c.Redirect(http.StatusSeeOther, "/account?done=linked")
		}
		return h.page(c, http.StatusConflict, "", "This account is linked to another member",
			"Your "+p.DisplayName()+" account is already linked to another membership, so it cannot be linked to yours.", "")
	}
	if err != nil {
		return fmt.Errorf("put upstream link: %w", err)
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "upstream.linked", Subject: sess.Subject, IP: c.RealIP(), Detail: p.Name() + " from the account page"})
	return c.Redirect(http.StatusSeeOther, "/account?done=linked")
}

// account handles the account page's forms: link an identity of a provider, remove a link.
func (h *Handler) account(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	sess, err := h.Cookies.Current(c)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	// A session still waiting for the member's second factor changes no link.
	m, err := h.Flow.Member(ctx, sess)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/account") // the page says why
	}
	if next, err := h.Flow.StepUpFirst(c, sess, m); err != nil {
		return err
	} else if next != "" {
		return c.Redirect(http.StatusSeeOther, next)
	}
	switch c.FormValue("action") {
	case "link":
		p, ok := h.Providers.Get(c.FormValue("provider"))
		if !ok {
			return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "That provider is not set up.", "")
		}
		return h.redirect(c, p, &store.UpstreamLogin{LinkSubject: sess.Subject}, up.Reauth{})
	case "unlink":
		iss, usub := c.FormValue("issuer"), c.FormValue("subject")
		if err := h.Store.DeleteUpstreamLink(ctx, sess.Subject, iss, usub); err != nil {
			if errors.Is(err, sso.ErrNotFound) {
				return c.Redirect(http.StatusSeeOther, "/account")
			}
			return fmt.Errorf("delete upstream link: %w", err)
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "upstream.unlinked", Subject: sess.Subject, IP: c.RealIP(), Detail: truncate(iss, 128)})
		return c.Redirect(http.StatusSeeOther, "/account?done=unlinked")
	}
	return h.Pages.Error(c, http.StatusBadRequest, "Nothing to do", "That action is not known.", "")
}

// Linked lists a member's linked identities for the account page.
func (h *Handler) Linked(ctx context.Context, subject string) ([]web.LinkedIdentity, error) {
	links, err := h.Store.UpstreamLinks(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]web.LinkedIdentity, 0, len(links))
	for _, l := range links {
		label := l.Provider
		if p, ok := h.Providers.Get(l.Provider); ok {
			label = p.DisplayName()
		}
		out = append(out, web.LinkedIdentity{Provider: label, Email: l.Email, Issuer: l.Issuer, Subject: l.UpstreamSubject,
			Since: l.CreatedAt.Format("2 Jan 2006")})
	}
	return out, nil
}

// backchannel ends the bridge sessions an upstream session started, on the provider's logout
// token (OpenID Connect Back-Channel Logout 1.0, 2.5 - 2.8).
func (h *Handler) backchannel(c echo.Context) error {
	ctx := c.Request().Context()
	c.Response().Header().Set("Cache-Control", "no-store")
	fail := func(desc string) error {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": desc})
	}
	p, ok := h.Providers.Get(c.Param("name"))
	if !ok {
		return fail("unknown provider")
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 64<<10)
	raw := c.FormValue("logout_token")
	if raw == "" {
		return fail("logout_token is required")
	}
	t, err := p.VerifyLogoutToken(ctx, raw)
	if err != nil {
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "upstream.logout_refused", IP: c.RealIP(), Detail: p.Name() + ": " + reason(err)})
		h.Logger.WarnContext(ctx, "upstream logout token refused", "provider", p.Name(), "err", err)
		return fail("the logout token is not valid")
	}
	// 2.6 step 6: a logout token is used once, so its jti is kept for as long as the token
	// would be accepted again (its exp), and at least a day.
	guard := sso.HashToken("upstream-logout:" + t.Issuer + "\x00" + t.JTI)
	if err := h.Store.UseHandoffToken(ctx, guard, logoutGuardUntil(h.Now(), t.Expiry)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return fail("the logout token was used already")
		}
		return h.backchannelFailed(c, p.Name(), fmt.Errorf("use logout token: %w", err))
	}
	ended, err := h.endUpstreamSessions(c, p, t)
	if err != nil {
		// Not acted on (or only in part): the guard goes, so that the provider's retry of this
		// very token is taken (the sessions already ended are not found again); a token that
		// was acted on keeps its guard, so a replay never ends a later session.
		if rerr := h.Store.ShortenHandoffToken(context.WithoutCancel(ctx), guard, releasedGuard); rerr != nil {
			h.Logger.WarnContext(ctx, "upstream logout token guard not released: a retry of the token will be refused",
				"provider", p.Name(), "err", rerr)
		}
		return h.backchannelFailed(c, p.Name(), err)
	}
	h.Logger.InfoContext(ctx, "upstream back-channel logout", "provider", p.Name(), "sessions_ended", ended)
	return c.NoContent(http.StatusOK)
}

// releasedGuard is the expiry a released replay guard is given: long past on any clock, so the
// same hash is taken again at once.
var releasedGuard = time.Unix(0, 0).UTC()

// endUpstreamSessions ends the bridge sessions (and held sign-ins) the upstream session of t
// started, and returns how many.
func (h *Handler) endUpstreamSessions(c echo.Context, p *up.Provider, t *up.LogoutToken) (int, error) {
	ctx := c.Request().Context()
	var ids []string
	for _, iss := range p.IssuerSpellings(t.Issuer) {
		more, err := h.Store.UpstreamSessions(ctx, iss, t.Subject, t.SID)
		if err != nil {
			return 0, fmt.Errorf("upstream sessions: %w", err)
		}
		ids = append(ids, more...)
	}
	ended := 0
	for _, id := range ids {
		if store.IsHeldSignIn(id) {
			// A sign-in from that upstream session waits at the second-factor step: it ends
			// there (the step refuses to go on without the record).
			if err := h.Store.DeleteUpstreamSession(ctx, id); err != nil && !errors.Is(err, sso.ErrNotFound) {
				return ended, fmt.Errorf("end held sign-in: %w", err)
			}
			h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "logout.upstream", IP: c.RealIP(), Detail: p.Name() + ": held sign-in"})
			ended++
			continue
		}
		sess, err := h.Store.Session(ctx, id)
		if errors.Is(err, sso.ErrNotFound) {
			continue
		}
		if err != nil {
			return ended, fmt.Errorf("session: %w", err)
		}
		if err := h.EndSession(ctx, sess); err != nil {
			return ended, fmt.Errorf("end session: %w", err)
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "logout.upstream", Subject: sess.Subject, IP: c.RealIP(), Detail: p.Name()})
		ended++
	}
	return ended, nil
}

// backchannelFailed answers a logout token the bridge could not act on: 400, as every request
// whose logout failed (Back-Channel Logout 1.0 section 2.8: "If the request was invalid or the
// logout failed, the RP MUST respond with HTTP 400 Bad Request"), with a JSON error that says
// why: temporarily_unavailable (and Retry-After) when the store is unreachable, else
// server_error; either way the provider may send the token again (its guard was released).
func (h *Handler) backchannelFailed(c echo.Context, provider string, err error) error {
	ctx := c.Request().Context()
	if errors.Is(err, sso.ErrUnavailable) {
		h.Logger.WarnContext(ctx, "upstream back-channel logout failed: the store is unavailable", "provider", provider, "err", err)
		c.Response().Header().Set("Retry-After", sso.UnavailableRetryAfter)
		return web.JSONError(c, http.StatusBadRequest, "temporarily_unavailable",
			"the logout was not done; send the logout token again later")
	}
	h.Logger.ErrorContext(ctx, "upstream back-channel logout failed", "provider", provider, "err", err)
	return web.JSONError(c, http.StatusBadRequest, "server_error", "the logout was not done; send the logout token again later")
}

// logoutGuardMinimum is the least time a logout token's jti is remembered; logoutGuardSkew
// covers clocks of replicas (and of the provider) that run a little behind this one's.
const (
	logoutGuardMinimum = 24 * time.Hour
	logoutGuardSkew    = 5 * time.Minute
)

// logoutGuardUntil is how long the replay guard of a logout token expiring at exp lasts: past
// its exp (the verifier refuses it then), and never less than logoutGuardMinimum.
func logoutGuardUntil(now, exp time.Time) time.Time {
	until := now.Add(logoutGuardMinimum)
	if e := exp.Add(logoutGuardSkew); e.After(until) {
		until = e
	}
	return until
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
