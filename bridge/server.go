package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
	"github.com/ssobridge/ssobridge/sso"
)

// Deps are what a Server is built from.
type Deps struct {
	Config    Config
	Store     store.Store
	Directory legacy.Directory
	// Demo is true when Directory is the embedded demo database (mounts the AMS simulator).
	Demo bool
	// SigningKeyEncryption is the 32-byte key-encryption key: it seals signing keys and the
	// installation secrets at rest. Nil: from keys.encryption_key (or the data dir's key file).
	SigningKeyEncryption []byte
	Logger               *slog.Logger
}

// Server is the running bridge.
type Server struct {
	cfg      Config
	store    store.Store
	dir      legacy.Directory
	log      *slog.Logger
	provider *sso.Provider
	registry *sso.Registry
	keys     *sso.KeyManager
	pages    *pages
	cookies  *cookieSessions
	throttle *Throttle
	// auditKey keys the hashes of typed logins in the audit log (loginkey.go).
	auditKey []byte
	// anonLimit rate-limits anonymous writes per client IP (ratelimit.go).
	anonLimit *rateLimiter
	// clientThrottle counts failed client authentications (clientauth.go).
	clientThrottle *Throttle
	subjects       *subjectMapper
	policy         *policy.Engine
	admin          *Admin // admin API and CLI operations (admin_ops.go)
	shadow         *provisioning.Service
	issuer         *url.URL
	echo           *echo.Echo
	demo           bool
	ams            *token.Client
	sim            *sim.Simulator
	now            func() time.Time
}

// Secrets generated once per installation and kept in the store.
const (
	secretSubject   = "subject_hmac_v1"
	secretCookieMAC = "cookie_hash_v1"
	secretCookieEnc = "cookie_block_v1"
	secretOpCrypto  = "op_crypto_v1"
	secretRotate    = "refresh_rotate_v1"
	secretCSRF      = "csrf_v1"
	secretSID       = "sid_hmac_v1"
	secretAudit     = "audit_login_v1"
)

// New builds the server: keys, clients, provider and routes.
func New(ctx context.Context, d Deps) (*Server, error) {
	cfg := d.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	issuer, _ := url.Parse(cfg.Issuer)
	kek := d.SigningKeyEncryption
	if kek == nil {
		var err error
		if kek, err = signingKeyEncryption(cfg, log); err != nil {
			return nil, err
		}
	}
	secrets, err := openSecrets(ctx, d.Store, kek, secretSubject, secretCookieMAC, secretCookieEnc, secretOpCrypto, secretRotate, secretCSRF, secretSID, secretAudit)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	s := &Server{cfg: cfg, store: d.Store, dir: d.Directory, log: log, issuer: issuer, now: time.Now, demo: d.Demo}

	reg, err := sso.NewRegistry(ctx, d.Store, StaticClients(cfg), 2*time.Second)
	if err != nil {
		return nil, err
	}
	s.registry = reg
	maxLife := max(cfg.Tokens.IDToken, cfg.Tokens.AccessToken) + time.Hour
	keys, err := sso.NewKeyManager(ctx, d.Store, sso.KeyConfig{
		Algorithms: cfg.Keys.Algorithms, RotateEvery: cfg.Keys.RotateEvery,
		MaxTokenLifetime: maxLife, EncryptionKey: d.SigningKeyEncryption, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s.keys = keys
	s.pages, err = newPages(cfg.Organisation)
	if err != nil {
		return nil, err
	}
	if err := s.pages.addDevicePages(); err != nil {
		return nil, err
	}
	s.cookies = newCookieSessions(secrets[secretCookieMAC], secrets[secretCookieEnc], secrets[secretCSRF],
		issuer.Scheme == "https", cfg.Session.Lifetime)
	s.throttle = NewThrottle(cfg.Throttle)
	s.auditKey = secrets[secretAudit]
	s.anonLimit = newRateLimiter(cfg.Throttle.AnonymousWrites)
	s.clientThrottle = NewThrottle(cfg.Throttle)
	s.subjects = newSubjectMapper(secrets[secretSubject], d.Store)
	if s.policy, err = policy.Compile(cfg.PolicyConfig(), policy.WithLogger(log)); err != nil {
		return nil, err
	}

	var opKey [32]byte
	copy(opKey[:], secrets[secretOpCrypto])
	s.provider, err = sso.New(sso.Config{
		Issuer: cfg.Issuer,
		Lifetimes: sso.Lifetimes{
			Code: cfg.Tokens.Code, AccessToken: cfg.Tokens.AccessToken, IDToken: cfg.Tokens.IDToken,
			RefreshToken: cfg.Tokens.RefreshToken, RefreshPublic: cfg.Tokens.RefreshPublic,
			RefreshGrace: cfg.Tokens.RefreshReuseGrace,
		},
		CryptoKey:             opKey,
		RotateKey:             secrets[secretRotate],
		SIDKey:                secrets[secretSID],
		LoginURL:              func(id string) string { return "/login?id=" + url.QueryEscape(id) },
		DefaultLogoutRedirect: cfg.Issuer + "/logout/done",
		SupportedScopes:       s.policy.SupportedScopes(),
		SupportedClaims:       s.policy.SupportedClaims(),
		ErrorPage:             s.protocolErrorPage,
		AllOrigins:            reg.Origins,
		Device: sso.DeviceConfig{Lifetime: cfg.Tokens.DeviceCode, Interval: cfg.Tokens.DeviceInterval,
			UserPath: PathDevice, DonePath: PathDeviceDone},
		Logger: log,
	}, d.Store, keys, reg, &hooks{s: s})
	if err != nil {
		return nil, err
	}
	if s.admin, err = newAdmin(ctx, cfg, d.Store, d.Directory, s.audit, secrets[secretSubject], secrets[secretSID]); err != nil {
		return nil, err
	}
	s.newShadow()
	s.admin.endSession = s.shadow.EndSession
	if err := s.setupAMS(ctx); err != nil {
		return nil, err
	}
	s.echo = s.routes()
	return s, nil
}

// Handler is the bridge's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.echo }

// FlushMemberCache drops cached member profiles (after an AMS change the caller knows about).
func (s *Server) FlushMemberCache() {
	if p, ok := s.dir.(interface{ Purge() }); ok {
		p.Purge()
	}
}

// Provider exposes the OpenID provider (for tests and the CLI).
func (s *Server) Provider() *sso.Provider { return s.provider }

// Registry exposes the client registry.
func (s *Server) Registry() *sso.Registry { return s.registry }

// Run does the background work until ctx ends: purging expired rows, rotating keys, shadow
// provisioning and its outbox. It returns when all of it has stopped (deliveries in flight are
// finished and recorded), so the caller may close the store then.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(4)
	go func() { defer wg.Done(); s.keys.Run(ctx, time.Hour) }()
	go func() { defer wg.Done(); s.throttle.Run(ctx) }()
	go func() { defer wg.Done(); s.clientThrottle.Run(ctx) }()
	go func() { defer wg.Done(); s.shadow.Run(ctx) }()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var lastAuditPurge time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.anonLimit.Prune()
			s.purgeDevices(ctx)
			n, err := s.store.Purge(ctx, s.now())
			if err != nil {
				s.log.ErrorContext(ctx, "purge failed", "err", err)
			} else if n > 0 {
				s.log.DebugContext(ctx, "purged expired rows", "rows", n)
			}
			if r := s.cfg.Audit.Retention; r > 0 && s.now().Sub(lastAuditPurge) >= time.Hour {
				lastAuditPurge = s.now()
				if n, err := s.store.PurgeAudit(ctx, s.now().Add(-r)); err != nil {
					s.log.ErrorContext(ctx, "audit purge failed", "err", err)
				} else if n > 0 {
					s.log.InfoContext(ctx, "audit events past retention deleted", "rows", n, "retention", r)
				}
			}
		}
	}
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.HTTPErrorHandler = s.httpError
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: func() string { return sso.RandomToken()[:16] }}))
	e.Use(s.requestLog)
	e.Use(middleware.Recover())
	e.Use(s.securityHeaders)

	// Protocol endpoints: op behind sso.Provider.
	proto := s.protocol()
	for _, p := range sso.Paths() {
		switch p {
		case sso.PathAuthCallback:
			continue
		case sso.PathAuthorize:
			// Each authorize request stores an auth request for an anonymous caller.
			e.Any(p, s.limitAnonymous("authorize", false, proto))
		case sso.PathDeviceAuthzEP:
			e.Any(p, s.limitAnonymous("device_authorization", true, proto))
		default:
			e.Any(p, proto)
		}
	}
	e.GET(sso.PathAuthCallback, s.authCallback(proto))
	e.GET("/", s.home)
	e.GET("/login", s.loginPage)
	e.POST("/login", s.loginSubmit) // failures are throttled; their audit rows are rate-limited
	e.GET("/consent", s.consentPage)
	e.POST("/consent", s.consentSubmit)
	e.GET("/logout", s.logoutPage)
	e.POST("/logout", s.logoutSubmit)
	e.GET("/logout/done", s.logoutDone)
	e.GET("/theme.css", s.themeCSS)
	e.GET("/static/*", staticHandler())
	if s.cfg.PlaygroundEnabled() {
		e.GET("/playground", s.playground)
	}
	e.POST(PathHandoff, s.limitAnonymous("handoff", false, s.handoff))
	e.GET(PathHandoff, s.handoffInfo)
	e.HEAD(PathHandoff, s.handoffInfo)
	e.GET(PathHandoffContinue, s.handoffContinue)
	e.POST(PathHandoffConfirm, s.handoffConfirm)
	e.POST(PathHandoffStart, s.handoffStart)
	e.GET(PathAMSLogout, s.amsLogout)
	e.GET(PathLogoutReturn, s.logoutReturn)
	e.GET("/account", s.account)
	if s.provider.DeviceEnabled() {
		e.GET(PathDevice, s.devicePage)
		e.POST(PathDevice, s.limitAnonymous("device", false, s.deviceSubmit))
		e.GET(PathDeviceDone, s.deviceDone)
	}
	e.POST("/account", s.accountAction)
	if s.sim != nil {
		sim := echo.WrapHandler(s.sim)
		e.Any(demoAMSPath, sim)
		e.Any(demoAMSPath+"/*", sim)
	}
	return e
}

// ipExtractor decides the client IP: the TCP peer, or with trusted proxies the first address in
// X-Forwarded-For that is not one of them.
func ipExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		if _, n, err := net.ParseCIDR(p); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		r := c.Request()
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		// Only the path is logged: query strings carry codes, tokens and hints.
		s.log.LogAttrs(r.Context(), level, "http",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.Duration("duration", time.Since(start)), slog.String("ip", c.RealIP()))
		return nil
	}
}

// securityHeaders sets the page security headers on every response.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
		if s.issuer.Scheme == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// httpError renders echo's errors (404, 405, ...) as pages or JSON.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "Something went wrong on our side. Please try again."
	if he, ok := err.(*echo.HTTPError); ok {
		code = he.Code
		switch code {
		case http.StatusNotFound:
			msg = "There is no page at this address."
		case http.StatusMethodNotAllowed:
			msg = "This page does not accept that kind of request."
		case http.StatusRequestEntityTooLarge:
			msg = "The request is too large."
		default:
			if code < 500 {
				msg = fmt.Sprint(he.Message)
			}
		}
	}
	if code >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Request().URL.Path,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	if strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		_ = c.JSON(code, map[string]string{"error": http.StatusText(code), "error_description": msg})
		return
	}
	s.errorPage(c, code, http.StatusText(code), msg, "")
}
