package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/account"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/handoff"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
	"github.com/ssobridge/ssobridge/bridge/web/playground"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Device flow paths (authflow).
const (
	PathDevice     = authflow.PathDevice
	PathDeviceDone = authflow.PathDeviceDone
)

// Deps are what a Server is built from.
type Deps struct {
	Config    Config
	Store     store.Store
	Directory legacy.Directory
	// Connector is the AMS connector Directory comes from: the bridge uses its optional
	// capabilities (hand-off, sign-off URL, pages to mount). Nil: none.
	Connector legacy.Connector
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
	throttle *throttle.Throttle
	// logins hashes typed logins for the audit log (loginkey.go).
	logins *identity.LoginHasher
	// logout is the sign-out part (end_session's hook seals its tickets).
	logout *logout.Handler
	// anonLimit rate-limits anonymous writes per client IP (ratelimit.go).
	anonLimit *throttle.Limiter
	// clientIP is the client IP of a request (the router's rule, trusted proxies included).
	clientIP func(*http.Request) string
	// auditLog writes the audit log (audit(), auditAnonymous()).
	auditLog *audit.Log
	// clientThrottle counts failed client authentications (clientauth.go).
	clientThrottle *throttle.Throttle
	subjects       *identity.SubjectMapper
	policy         *policy.Engine
	// access decides whether a member may use a client now (every path asks it).
	access *access.Checker
	admin  *admin.Service // the admin API's administration (admin.go)
	shadow *provisioning.Service
	echo   *echo.Echo
	now    func() time.Time
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

// New checks d.Config and builds the server: keys, clients, provider and routes.
func New(ctx context.Context, d Deps) (*Server, error) {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	chk, err := d.Config.Check(log)
	if err != nil {
		return nil, err
	}
	return newServer(ctx, chk, d, log)
}

// newServer builds the server from a checked configuration (d.Config is not read).
func newServer(ctx context.Context, chk *config.Checked, d Deps, log *slog.Logger) (*Server, error) {
	cfg := chk.Config
	issuer := chk.IssuerURL
	kek := d.SigningKeyEncryption
	if kek == nil {
		var err error
		if kek, err = signingKeyEncryption(cfg, log); err != nil {
			return nil, err
		}
	}
	secrets, err := identity.OpenSecrets(ctx, d.Store, kek, secretSubject, secretCookieMAC, secretCookieEnc, secretOpCrypto, secretRotate, secretCSRF, secretSID, secretAudit)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	s := &Server{cfg: cfg, store: d.Store, dir: d.Directory, log: log, now: time.Now}

	reg, err := sso.NewRegistry(ctx, d.Store, StaticClients(chk), 2*time.Second)
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
	pages, err := web.NewRenderer(web.Brand(cfg.Organisation))
	if err != nil {
		return nil, err
	}
	https := issuer.Scheme == "https"
	cookies := session.New(session.Config{HashKey: secrets[secretCookieMAC], BlockKey: secrets[secretCookieEnc],
		CSRFKey: secrets[secretCSRF], Secure: https, Lifetime: cfg.Session.Lifetime}, d.Store, pages)
	s.throttle = throttle.New(cfg.Throttle)
	s.logins = identity.NewLoginHasher(secrets[secretAudit])
	s.anonLimit = throttle.NewLimiter(cfg.Throttle.AnonymousWrites)
	s.auditLog = audit.New(d.Store, log, s.now, s.anonLimit)
	limit := &web.AnonymousLimit{Limiter: s.anonLimit, Refused: s.auditLog.Refused, Pages: pages}
	s.clientIP = web.IPExtractor(cfg.TrustedProxies)
	s.clientThrottle = throttle.New(cfg.Throttle)
	s.subjects = identity.NewSubjectMapper(secrets[secretSubject], d.Store)
	s.policy = chk.Policy
	s.access = access.New(s.policy, provisioning.RequireCurrentClients(cfg.Provisioning), log)

	var opKey [32]byte
	copy(opKey[:], secrets[secretOpCrypto])
	// The parts the provider's hooks call are built before it, from what the provider is built
	// from: its crypto's key seals the tickets, the client registry and the sid key are its own.
	crypto, err := sso.NewCrypto(opKey)
	if err != nil {
		return nil, err
	}
	sealer := identity.NewSealer(crypto)
	clients := registryClients{reg}
	sidKey := secrets[secretSID]
	publicSID := func(id string) string { return sso.PublicSID(sidKey, id) }
	s.shadow = provisioning.New(provisioning.Options{
		Config: cfg.Shadow, Targets: cfg.Provisioning, Store: d.Store, Directory: d.Directory,
		Viewer: provisioning.ViewFunc(s.memberView), Access: s.access, Clients: clients, Keys: keys, Issuer: cfg.Issuer,
		Logger: log, PublicSID: publicSID,
	})
	ams := capabilities(d.Connector)
	s.logout = &logout.Handler{Pages: pages, Cookies: cookies, Sealer: sealer, Clients: clients, Issuer: cfg.Issuer,
		EndSession: s.shadow.EndSession, PublicSID: publicSID, Audit: s.audit, SignOff: ams.signOff,
		FromAMS: handoff.Origins(ams.website.Origins).FromAMS, Now: s.now}
	redeemer := &handoff.Redeemer{Store: d.Store, Exchanger: ams.exchanger, Directory: d.Directory, Access: s.access,
		Logger: log, Now: s.now}
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
		ErrorPage:             pages.ProtocolErrorPage,
		AllOrigins:            reg.Origins,
		Device: sso.DeviceConfig{Lifetime: cfg.Tokens.DeviceCode, Interval: cfg.Tokens.DeviceInterval,
			UserPath: PathDevice, DonePath: PathDeviceDone},
		Logger: log,
	}, d.Store, keys, reg, s.newHooks(cfg, s.logout.TicketURL, amsExchange{redeemer: redeemer, audit: s.audit, subjects: s.subjects, now: s.now}))
	if err != nil {
		return nil, err
	}
	s.admin = newAdmin(adminParts{store: d.Store, registry: reg, ender: s.shadow, policy: s.policy, access: s.access, audit: s.audit,
		subjects: s.subjects, dir: d.Directory, log: log, now: s.now})
	// The web side: each part built once from its dependencies, then mounted on one router.
	flow := &authflow.Handler{Pages: pages, Cookies: cookies, Provider: s.provider, Store: s.store, Directory: s.dir,
		Subjects: s.subjects, Access: s.access, Throttle: s.throttle, Audit: s.auditLog, Scopes: s.policy.DescribeScopes,
		Authenticate: s.authenticate, FailedSignIn: s.failedSignIn, LoginHash: s.loginHash,
		Provision: s.shadow.Provision, EndSession: s.shadow.EndSession, LimitAnonymous: limit.Wrap,
		Issuer: cfg.Issuer, SessionLifetime: cfg.Session.Lifetime, AMSName: amsName(ams.exchanger, ams.website),
		Logger: log, Now: s.now}
	handoffPart := &handoff.Handler{Pages: pages, Cookies: cookies, Flow: flow, Provider: s.provider, Store: s.store,
		Directory: s.dir, Subjects: s.subjects, Redeemer: redeemer, Audit: s.auditLog, Sealer: sealer,
		Website: ams.website, DefaultClient: cfg.AMS.DefaultClient, Issuer: cfg.Issuer,
		HTTPS: https, LimitAnonymous: limit.Wrap, Logger: log, Now: s.now}
	parts := []web.Mounter{
		pages,
		protocolRoutes{provider: s.provider, limit: limit, callback: flow.Callback},
		flow,
		s.logout,
		&account.Handler{Pages: pages, Cookies: cookies, Provider: s.provider, Consents: s.store,
			Scopes: s.policy.DescribeScopes, Member: flow.Member, EndSession: s.shadow.EndSession, Audit: s.audit,
			Playground: cfg.PlaygroundEnabled(), Logger: log},
		handoffPart,
	}
	if cfg.PlaygroundEnabled() {
		parts = append(parts, &playground.Handler{Pages: pages, Issuer: cfg.Issuer,
			Scopes: []string{"openid", "profile", "email", "offline_access", ScopeMembership, ScopeRoles}})
	}
	if ams.pages.Handler != nil {
		parts = append(parts, ams.pages)
	}
	s.echo = web.NewRouter(web.RouterConfig{TrustedProxies: cfg.TrustedProxies, HTTPS: https, Renderer: pages, Logger: log})
	for _, p := range parts {
		p.Mount(s.echo)
	}
	return s, nil
}

// Handler is the bridge's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.echo }

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

// purgeDevices deletes device authorizations an hour after they expired (until then a late
// poll still learns expired_token rather than invalid_grant).
func (s *Server) purgeDevices(ctx context.Context) {
	ds, ok := s.store.(sso.DeviceStore)
	if !ok {
		return
	}
	if n, err := ds.PurgeDeviceAuthorizations(ctx, s.now().Add(-time.Hour)); err != nil {
		s.log.ErrorContext(ctx, "purge device authorizations failed", "err", err)
	} else if n > 0 {
		s.log.DebugContext(ctx, "purged device authorizations", "rows", n)
	}
}

// amsName is the AMS website's name for the hand-off button ("" when no hand-off is set up).
func amsName(ex legacy.HandoffExchanger, w legacy.Website) string {
	if ex == nil {
		return ""
	}
	if w.Name != "" {
		return w.Name
	}
	return "the member website"
}
