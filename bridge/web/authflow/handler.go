package authflow

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the sign-in flow.
const (
	PathLogin      = "/login"
	PathConsent    = "/consent"
	PathDevice     = "/device"
	PathDeviceDone = "/device/done"
)

// Store is what the flow writes: request binding and ending, sessions, consents.
type Store interface {
	BindAuthRequest(ctx context.Context, id, browser string) error
	DeleteAuthRequest(ctx context.Context, id string) error
	CreateSession(ctx context.Context, s *sso.Session) error
	// ReauthenticateSession signs the browser's session in again (its member's fresh sign-in),
	// and Session reads it by its id when that loses to another tab's (store.SessionStore).
	ReauthenticateSession(ctx context.Context, r *store.SessionReauth) error
	Session(ctx context.Context, id string) (*sso.Session, error)
	AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error
	// CompleteSignIn writes a new sign-in's session and audit row with the completion of its
	// request, in one transaction.
	CompleteSignIn(ctx context.Context, in *store.SignIn) error
	// ClaimAuthRequest binds a pending, unbound request to a browser and returns it in one
	// write (nil: it bound nothing).
	ClaimAuthRequest(ctx context.Context, id, browser string) (*sso.AuthRequest, error)
	Consent(ctx context.Context, subject, clientID string) (*store.Consent, error)
	PutConsent(ctx context.Context, c *store.Consent) error
	// The one-time records of sign-ins waiting for consent and of refused sign-ins
	// (onewrite.go), kept with the second-factor challenges.
	CreateMFAChallenge(ctx context.Context, c *store.MFAChallenge) error
	MFAChallenge(ctx context.Context, idHash string) (*store.MFAChallenge, error)
	PassMFAChallenge(ctx context.Context, idHash, browser string, now time.Time) error
	// The upstream sign-in behind a new session (SignInOptions.Upstream), recorded when the
	// session is written, and held with a sign-in waiting for consent.
	PutUpstreamSession(ctx context.Context, s *store.UpstreamSession) error
	UpstreamSession(ctx context.Context, sessionID string) (*store.UpstreamSession, error)
	MoveUpstreamSession(ctx context.Context, from, to string, expires time.Time) error
}

// Provider is what the sign-in flow needs of the OpenID provider (sso.Provider): its pending
// auth requests and clients, completing or refusing a request, and the device flow.
type Provider interface {
	AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error)
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
	// Complete marks a request completed and returns op's callback that issues the code.
	Complete(ctx context.Context, id string, c sso.Completion) (string, error)
	// CallbackURL is op's callback that issues the code of a completed request.
	CallbackURL(id string) string
	// NewCode makes the code of a request about to be completed with it (store.SignIn) and
	// the authorization response that carries it to the app; nothing is stored.
	NewCode(ar *sso.AuthRequest) (*sso.IssuedCode, error)
	// CodeCommitted tells it that the completion of ar (c) with code has committed: the
	// code's first exchange here need not read the request back.
	CodeCommitted(ar *sso.AuthRequest, c sso.Completion, code *sso.IssuedCode)
	// ErrorRedirect is the client redirect that carries an OAuth error for a request.
	ErrorRedirect(ar *sso.AuthRequest, e *oidc.Error) (string, error)
	// DeviceEnabled reports whether the device flow runs; DeviceLogin and DeviceDone are its
	// user code page's steps.
	DeviceEnabled() bool
	DeviceLogin(ctx context.Context, typed string) (*sso.DeviceAuthorization, string, error)
	DeviceDone(ctx context.Context, q url.Values) (*sso.DeviceAuthorization, bool, error)
}

// PasswordChecker checks a typed login and password (signin.Checker).
type PasswordChecker interface {
	Check(ctx context.Context, a signin.Attempt) (*legacy.Member, error)
	// Hash is what the audit log keeps of a typed login.
	Hash(login string) string
}

// FirstFactor is a first factor that passed (the AMS password, a passkey alone, a linked
// upstream identity, the AMS website's hand-off) and waits to become a session.
type FirstFactor struct {
	// AR is the sign-in request it continues and Client its client (nil: none, e.g. a hand-off
	// with no app waiting).
	AR     *sso.AuthRequest
	Client *sso.ClientConfig
	Member *legacy.Member
	// AMR are the methods passed (e.g. ["pwd"], ["fed"], ["hwk", "mfa"]).
	AMR []string
	// Next is where the browser goes once the session is open when AR is nil ("": /account).
	Next string
	// Upstream is recorded with the new session (SessionID and ExpiresAt filled) for an upstream
	// sign-in, so the provider's back-channel logout ends it.
	Upstream *store.UpstreamSession
	// Detail ends the login.success audit row (e.g. the upstream provider's name).
	Detail string
	// RequireMFA says that the app asked for a second factor outside an OIDC request (a SAML
	// app's RequestedAuthnContext): the sign-in waits for one, and a member without one enrols.
	RequireMFA bool
	// Step is set by AfterFirstFactor when it sends the browser to a step: the id hash of the
	// step's challenge (a SAML sign-in keys its claim to it: store.KindSAMLLoginClaim).
	Step string
	// AuthTime is when the first factor authenticated the member when that is not now: an
	// upstream provider's (upstream.SessionAuthTime: its auth_time, or long ago when it sent
	// none). A session the step opens without checking a factor of its own (the reset notice
	// acknowledged, a new factor enrolled) takes it; one whose factor is checked there is
	// authenticated then (bridge/web/mfa pass). Zero: now.
	AuthTime time.Time
}

// SecondFactor is the second-factor step of the sign-in (bridge/web/mfa).
type SecondFactor interface {
	// AfterFirstFactor decides what follows a first factor: "" to open a session now, or where
	// to send the browser (the second-factor step, or the one-time notice that the member's
	// factors were reset), which opens the session itself once passed. Until then no session
	// exists: every sign-in path calls it before StartSession.
	AfterFirstFactor(c echo.Context, f *FirstFactor) (string, error)
	// NeedsStepUp reports whether sess lacks a second factor that completing ar for client
	// needs (the member opted in, the client requires it or asked with acr_values, the
	// member's role requires it).
	NeedsStepUp(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) (bool, error)
	// StartStepUp opens a step-up of sess for ar and returns where to send the browser.
	StartStepUp(c echo.Context, ar *sso.AuthRequest, sess *sso.Session) (string, error)
	// PasskeyLogin reports whether the login page offers signing in with a passkey alone.
	PasskeyLogin() bool
}

// Handler serves the sign-in flow. Its fields are what it depends on; all are required unless
// said otherwise.
type Handler struct {
	Pages    *web.Renderer
	Cookies  *session.Cookies
	Provider Provider
	Store    Store
	// Directory re-reads the member behind a session.
	Directory legacy.MemberLookup
	Subjects  *identity.SubjectMapper
	// Access decides whether a member may use a client now.
	Access   access.Decider
	Throttle *throttle.Throttle
	// DeviceGuesses bounds wrong device user codes for the whole service (nil: per address
	// only, through Throttle).
	DeviceGuesses *throttle.Throttle
	// DeviceNetworks bounds the wrong device user codes of browsers without a session per
	// IPv6 /48 (throttle.NetworkKey), a budget coarser than Throttle's per /64 (nil: none).
	DeviceNetworks *throttle.Throttle
	Audit          *audit.Log
	// Scopes describes scopes for the consent page.
	Scopes func(clientID string, scopes []string) []policy.ScopeDescription
	// SignIn checks typed logins and passwords (throttle, AMS, failure records).
	SignIn PasswordChecker
	// Provision sets up the member's shadow user at a client before its code is issued.
	Provision func(ctx context.Context, clientID, subject string, m *legacy.Member) error
	// EndSession ends an SSO session and queues its back-channel logouts.
	EndSession func(context.Context, *sso.Session) error
	// LimitAnonymous rate-limits an endpoint that writes for an anonymous caller.
	LimitAnonymous func(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc
	Issuer         string
	// SessionLifetime is how long an SSO session lives.
	SessionLifetime time.Duration
	// SecondFactor is the second-factor step (nil: passwords alone).
	SecondFactor SecondFactor
	// AMSName names the AMS website on the login page's hand-off button ("" : no hand-off).
	AMSName string
	// Upstreams are the login page's buttons of upstream providers (none: no buttons).
	Upstreams []web.UpstreamButton
	Logger    *slog.Logger
	Now       func() time.Time

	logins preparedLogins // the login pages prepared per client (showLogin)
	labels memberLabels   // the member's label per session, for the consent page (consent.go)
}

// Mount adds the login, consent and (when the provider runs the device flow) device routes.
// op's authorize callback is mounted by the caller through Callback.
//
// HEAD (RFC 9110 9.3.2: GET without the body, and without the GET's writes) is answered by
// the device page, which reads nothing and sets no cookie for a HEAD (session.Cookies), and by
// the consent page, whose GET binds a request not bound yet and writes an audit row for a used
// one or another browser's: its HEAD answers as that GET without either (ClaimRequest,
// RequestState). The others refuse it (405, Allow naming GET): the login page binds a new
// request to the browser (a write, whatever id it is given, counted by the anonymous limit)
// and may finish the sign-in at once with the browser's session; the device result page
// (PathDeviceDone) records the member's decision on the device's request.
func (h *Handler) Mount(e *echo.Echo) {
	// The page binds a new request to the browser (a write, whatever id it is given).
	e.GET(PathLogin, h.LimitAnonymous("login", false, h.loginPage))
	e.POST(PathLogin, h.loginSubmit) // failures are throttled; their audit rows are rate-limited
	e.Match([]string{http.MethodGet, http.MethodHead}, PathConsent, h.consentPage)
	e.POST(PathConsent, h.consentSubmit)
	e.POST(PathAccount, h.accountSubmit)
	if h.Provider.DeviceEnabled() {
		e.Match([]string{http.MethodGet, http.MethodHead}, PathDevice, h.devicePage)
		e.POST(PathDevice, h.LimitAnonymous("device", false, h.deviceSubmit))
		e.GET(PathDeviceDone, h.deviceDone)
	}
}

// loginURL is the login page of the sign-in request id, where every step sends a request that
// needs a sign-in.
func loginURL(id string) string { return PathLogin + "?id=" + url.QueryEscape(id) }
