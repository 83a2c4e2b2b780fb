package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/account"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/handoff"
	"github.com/ssobridge/ssobridge/bridge/web/logout"
	webmfa "github.com/ssobridge/ssobridge/bridge/web/mfa"
	"github.com/ssobridge/ssobridge/bridge/web/playground"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	webupstream "github.com/ssobridge/ssobridge/bridge/web/upstream"
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
	// Metrics is the process's metrics registry (NewMetrics), given when the connector was
	// opened with it as its query observer. Nil: the server builds its own.
	Metrics *metrics.Metrics
	// Cluster coordinates this replica with the others on the same store (cluster.ForStore):
	// leases for the singleton jobs, notifications that refresh the cached clients and keys.
	// Nil: the server is alone (an in-process node), and its client cache checks the store's
	// version on lookup every 2 s, as one process with a CLI beside it needs.
	Cluster cluster.Node
	// SharedThrottles keeps the sign-in throttle's and the rate limits' counters in the store
	// even when it is not shared by replicas (tests and measurements; a PostgreSQL store always
	// does).
	SharedThrottles bool
}

// Server is the running bridge: its HTTP surface and the background work Run does. New builds
// every part once, in dependency order, from what it needs; nothing here is read by a part
// later.
type Server struct {
	cfg      Config
	store    store.Store
	dir      legacy.Directory
	log      *slog.Logger
	provider *sso.Provider
	registry *sso.Registry
	keys     *sso.KeyManager
	// throttle counts failed sign-ins, clientThrottle failed client authentications,
	// deviceNetworks wrong device codes per IPv6 /48; Run prunes them.
	throttle       *throttle.Throttle
	clientThrottle *throttle.Throttle
	deviceNetworks *throttle.Throttle
	// anonLimit rate-limits anonymous writes per client IP; Run prunes it.
	anonLimit *throttle.Limiter
	admin     *admin.Service // the admin API's administration (admin.go)
	console   http.Handler   // the admin console (console.go); nil when off
	shadow    *provisioning.Service
	metrics   *metrics.Metrics
	ready     *readiness
	samlKeys  *saml.KeyRing // the SAML IdP's signing keys; Run rotates them
	echo      *echo.Echo
	handler   http.Handler // echo, with the public documents answered ahead of it (web.Router)
	now       func() time.Time
	// cluster runs the singleton jobs under leases and tells the replicas of key changes.
	cluster cluster.Node
}

// Lease names of the server's singleton jobs (provisioning has its own).
const (
	leaseKeys  = "keys.rotation"
	leasePurge = "store.purge"
)

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
	secretThrottle  = "throttle_key_v1"
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
	secrets, err := identity.OpenSecrets(ctx, d.Store, kek, secretSubject, secretCookieMAC, secretCookieEnc, secretOpCrypto, secretRotate, secretCSRF, secretSID, secretAudit, secretUpstream, secretThrottle)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	now := time.Now
	node, checkClients := d.Cluster, time.Duration(0)
	if node == nil {
		node, checkClients = cluster.NewLocal(cluster.LocalOptions{Fallback: -1, Logger: log}), 2*time.Second
	}
	s := &Server{cfg: cfg, store: d.Store, dir: d.Directory, log: log, now: now, metrics: d.Metrics, cluster: node}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}

	// Clients, keys and the crypto every part shares with the provider, built from the store
	// and the secrets before the provider: the parts that seal tickets, name clients or publish
	// sids do not wait for it. The replicas' notifications (and the cluster's periodic
	// fallback) refresh the cached clients and keys; lookups read memory.
	statics := StaticClients(chk)
	consoleCl, consoleSecret, consoleOn := consoleClient(chk)
	if consoleOn {
		statics = append(statics, consoleCl)
	}
	reg, err := sso.NewRegistry(ctx, d.Store, statics, checkClients)
	if err != nil {
		return nil, err
	}
	s.registry = reg
	if err := checkProvisioningClients(ctx, reg, cfg.Provisioning); err != nil {
		return nil, err
	}
	if err := checkDefaultClient(ctx, reg, cfg.AMS.DefaultClient, cfg.Issuer, log); err != nil {
		return nil, err
	}
	clients := registryClients{reg}
	kc := signingKeyConfig(cfg, d.SigningKeyEncryption, log)
	if kc.OpenSSL, err = openRSASigner(ctx, cfg.Keys.RSASigner, log); err != nil {
		return nil, err
	}
	kc.RequireOpenSSL = cfg.Keys.RSASigner == "openssl"
	keys, err := sso.NewKeyManager(ctx, d.Store, kc)
	if err != nil {
		if errors.Is(err, sso.ErrOpenSSLRefused) {
			return nil, fmt.Errorf("keys.rsa_signer: openssl: %w", err)
		}
		return nil, err
	}
	logRSASigner(ctx, cfg.Keys.RSASigner, kc.OpenSSL, keys, log)
	s.keys = keys
	warnStoredClients(ctx, reg, cfg.SigningAlgorithms(), log)
	node.Subscribe(cluster.TopicClients, reg.Refresh)
	node.Subscribe(cluster.TopicKeys, keys.Reload)
	// This replica may have created the first keys (or found another's): the others publish
	// them at once.
	if err := node.Notify(ctx, cluster.TopicKeys); err != nil {
		log.WarnContext(ctx, "could not tell the other replicas about the signing keys; they reload at their next check", "err", err)
	}
	var opKey [32]byte
	copy(opKey[:], secrets[secretOpCrypto])
	sealer, err := ticketSealer(opKey)
	if err != nil {
		return nil, err
	}
	sidKey := secrets[secretSID]
	publicSID := func(id string) string { return sso.PublicSID(sidKey, id) } // Provider.PublicSID

	// The member side: who a member is, whether they may sign in, the audit log.
	pages, err := web.NewRenderer(web.Brand(cfg.Organisation))
	if err != nil {
		return nil, err
	}
	https := issuer.Scheme == "https"
	cookies := session.New(session.Config{HashKey: secrets[secretCookieMAC], BlockKey: secrets[secretCookieEnc],
		CSRFKey: secrets[secretCSRF], Secure: https, Lifetime: cfg.Session.Lifetime}, d.Store, pages)
	s.throttle, s.clientThrottle, s.anonLimit = newThrottles(cfg, d, secrets[secretThrottle], log)
	s.deviceNetworks = newDeviceNetworks(cfg, d, secrets[secretThrottle], log)
	auditLog := audit.New(d.Store, log, now, s.anonLimit).Observe(observeAudit(s.metrics))
	limit := &web.AnonymousLimit{Limiter: s.anonLimit, Refused: auditLog.Refused, Pages: pages, Log: log}
	clientIP := web.IPExtractor(cfg.TrustedProxies)
	subjects := identity.NewSubjectMapper(secrets[secretSubject], d.Store)
	pol := chk.Policy
	decide := access.New(pol, provisioning.RequireCurrentClients(cfg.Provisioning), log)
	signIn := &signin.Checker{Directory: d.Directory, Subjects: subjects, Throttle: s.throttle, Access: decide,
		Anonymous: auditLog.Anonymous, Logins: identity.NewLoginHasher(secrets[secretAudit]), Logger: log, Now: now,
		Observer: s.metrics}
	samlSLO := &saml.BackChannelSender{}
	queue, logouts := newOutbox(outboxParts{cfg: cfg, store: d.Store, clients: clients, keys: keys, publicSID: publicSID,
		audit: auditLog.Write, log: log, now: now, observer: s.metrics, samlLogout: samlSLO})
	// A removed app (its events deleted with it) is no longer kept off the outbox's last worker.
	node.Subscribe(cluster.TopicClients, queue.ForgetIdleClients)
	s.shadow = provisioning.New(provisioning.Options{
		Config: cfg.Shadow, Targets: cfg.Provisioning, Store: d.Store, Directory: d.Directory,
		Viewer: memberView(pol), Access: decide, Outbox: queue, Logouts: logouts, Logger: log, Now: now,
		Lock: node, Leader: node,
	})
	s.admin = newAdmin(adminParts{store: d.Store, registry: reg, ender: logouts, policy: pol, access: decide, audit: auditLog.Write,
		subjects: subjects, dir: d.Directory, records: d.Store, ams: amsChecks(cfg, d.Directory, d.Connector), changes: node,
		signingAlgs: cfg.SigningAlgorithms(), signingKeys: keys, clientRefs: clientReferences(cfg), samlIDs: configSAMLIDs(cfg), log: log, now: now})
	s.admin.LogLevel = logging.LevelVar(log) // nil unless the logger is package logging's

	// Second factors (issue 16): kept in the store, checked by the sign-in's second step and
	// by the grants that cannot ask for one.
	factors := &mfa.Service{Store: d.Store, KEK: kek, Issuer: totpIssuer(cfg.Organisation.Name),
		Policy: mfa.Policy{RequiredRoles: cfg.MFA.RequiredRoles}, Clients: reg,
		Throttle: s.throttle, Audit: auditLog.Write, Now: now, InvitationFirst: cfg.MFA.InvitationFirst()}
	// Passkeys need a domain as their RP ID: an issuer on an IP address has none.
	if net.ParseIP(issuer.Hostname()) != nil {
		log.Warn("passkeys are off: the issuer's host is an IP address, and WebAuthn needs a domain name", "issuer", cfg.Issuer)
	} else if factors.WebAuthn, err = mfa.NewWebAuthn(issuer, totpIssuer(cfg.Organisation.Name)); err != nil {
		return nil, fmt.Errorf("bridge: passkeys: %w", err)
	}
	s.admin.MFA = mfaFactors{factors} // the console shows them

	// The parts the provider's hooks call: end_session's logout ticket, the password grant's
	// check, the hand-off's token exchange.
	ams := capabilities(d.Connector)
	// The SAML IdP's service providers, keys and front-channel logouts (package saml).
	samlSPs, err := saml.NewRegistry(cfg.SAML, d.Store, now)
	if err != nil {
		return nil, err
	}
	samlSPs.EmailVerified = cfg.Policy.EmailVerified // name_id_format email only then
	// Every stored SP is built once now: one whose record no longer builds is logged by name
	// and refused at its sign-ins (saml.Registry), not found at a first lookup.
	samlSPs.Logger = log
	if err := samlSPs.Load(ctx); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if err := checkPolicyIDs(ctx, reg, cfg.SAML, d.Store, cfg.Policy.Policies); err != nil {
		return nil, err
	}
	samlSPs.Changed = func(ctx context.Context) error { return node.Notify(ctx, cluster.TopicSAML) }
	node.Subscribe(cluster.TopicSAML, samlSPs.Refresh)
	s.admin.SAMLSettings = samlSettingsAdmin{samlSPs} // PATCH /admin/saml/service-providers/{sp}
	// The SAML keys sign through libcrypto too (keys.rsa_signer), each after its self-test.
	// Under keys.rsa_signer: openssl a SAML key libcrypto refuses signs nothing, and start-up
	// fails when it is the one that signs now (review s26 R1-2).
	if s.samlKeys, err = saml.NewKeyRingWithOpenSSL(ctx, d.Store, kek, cfg.SAML, issuer.Hostname(), log, now, kc.OpenSSL, kc.RequireOpenSSL); err != nil {
		if errors.Is(err, saml.ErrOpenSSLRefused) {
			return nil, fmt.Errorf("keys.rsa_signer: openssl: %w", err)
		}
		return nil, err
	}
	logSAMLSigner(ctx, cfg.Keys.RSASigner, kc.OpenSSL, s.samlKeys, log)
	node.Subscribe(cluster.TopicKeys, s.samlKeys.Reload)
	s.admin.SAMLKeyManager = samlKeyAdmin{s.samlKeys}
	samlLogouts := &saml.Logouts{Store: d.Store, Registry: samlSPs, Keys: s.samlKeys, Issuer: cfg.Issuer, Sealer: sealer, Secure: https,
		Logger: log, Now: now, Audit: auditLog.Write}
	// Sessions that end anywhere send the SAML SPs with a SOAP single logout service a
	// LogoutRequest through the outbox, with the OIDC apps' back-channel logouts.
	samlSLO.Registry, samlSLO.Keys, samlSLO.WantSigned = samlSPs, s.samlKeys, cfg.SAML.WantLogoutResponsesSigned
	logouts.Others = samlLogouts.BackChannel
	ups := upstreamProviders(cfg, log, now)
	out := &logout.Handler{Pages: pages, Cookies: cookies, Sealer: sealer, Clients: clients, Issuer: cfg.Issuer,
		EndSession: logouts.EndSession, PublicSID: publicSID, Audit: auditLog.Write, SignOff: ams.signOff,
		FromAMS: handoff.Origins(ams.website.Origins).FromAMS, UpstreamSignOff: ups.SignOff(d.Store),
		Chain: samlLogouts.Chain, Resume: samlLogouts.Resume, Now: now}
	redeemer := &handoff.Redeemer{Store: d.Store, Exchanger: ams.exchanger, Directory: d.Directory, Access: decide,
		Logger: log, Now: now, Observer: s.metrics}
	var exchange sso.ExternalExchanger // nil: the AMS connector has no hand-off
	if ams.exchanger != nil {
		exchange = amsExchange{redeemer: redeemer, subjects: subjects, audit: auditLog.Write, secondFactor: factors.Needed, now: now}
	}
	h := &hooks.Hooks{
		Members: d.Directory, Subjects: subjects, Policy: pol, Access: decide, Consents: d.Store,
		Audit: auditLog.Write, Anonymous: auditLog.Anonymous, Coalesced: auditLog.Coalesced, Repeated: auditLog.Repeated, ClientThrottle: s.clientThrottle, RequestIP: clientIP,
		LogoutPage: out.TicketURL,
		Password: passwordGrant{signIn: signIn, subjects: subjects, audit: auditLog.Write, secondFactor: factors.Needed,
			clientIP: clientIP, now: now}.check,
		Exchanger: exchange, ExchangeClients: cfg.AMS.ExchangeClients, SecondFactorPolicy: factors.PolicyRequires,
		Now: now,
	}

	s.provider, err = sso.New(sso.Config{
		Issuer: cfg.Issuer,
		Lifetimes: sso.Lifetimes{
			Code: cfg.Tokens.Code, AccessToken: cfg.Tokens.AccessToken, IDToken: cfg.Tokens.IDToken,
			RefreshToken: cfg.Tokens.RefreshToken, RefreshPublic: cfg.Tokens.RefreshPublic,
			RefreshGrace: cfg.Tokens.RefreshReuseGrace,
		},
		CryptoKey:             opKey,
		RotateKey:             secrets[secretRotate],
		SIDKey:                sidKey,
		LoginURL:              func(id string) string { return "/login?id=" + url.QueryEscape(id) },
		DefaultLogoutRedirect: cfg.Issuer + "/logout/done",
		SupportedScopes:       pol.SupportedScopes(),
		SupportedClaims:       pol.SupportedClaims(),
		ErrorPage:             pages.ProtocolErrorPage,
		AllOrigins:            reg.Origins,
		Device: sso.DeviceConfig{Lifetime: cfg.Tokens.DeviceCode, Interval: cfg.Tokens.DeviceInterval,
			UserPath: PathDevice, DonePath: PathDeviceDone},
		Logger:   log,
		Observer: tokenObserver{s.metrics},
	}, d.Store, keys, reg, h)
	if err != nil {
		return nil, err
	}

	// The web side: each part built once from its dependencies, then mounted on one router.
	flow := &authflow.Handler{Pages: pages, Cookies: cookies, Provider: s.provider, Store: d.Store, Directory: d.Directory,
		Subjects: subjects, Access: decide, Throttle: s.throttle, DeviceGuesses: newDeviceGuesses(cfg, d, secrets[secretThrottle], log),
		DeviceNetworks: s.deviceNetworks, Audit: auditLog, Scopes: pol.DescribeScopes,
		SignIn: signIn, Provision: s.shadow.Provision, EndSession: logouts.EndSession, LimitAnonymous: limit.Wrap,
		Issuer: cfg.Issuer, SessionLifetime: cfg.Session.Lifetime, AMSName: amsName(ams.exchanger, ams.website),
		Upstreams: webupstream.Buttons(ups), Logger: log, Now: now}
	samlIdP := &saml.Handler{Pages: pages, Cookies: cookies, Flow: flow, SignIn: signIn, Store: d.Store, Registry: samlSPs,
		Keys: s.samlKeys, Claims: pol.Claims, Access: decide, Audit: auditLog, Issuer: cfg.Issuer, SessionIndex: publicSID,
		EndSession: logouts.EndSession, SignedOut: out.SignedOutWith, SignOff: out.SignOffURL, Logouts: samlLogouts, LimitAnonymous: limit.Wrap, Subjects: subjects.Subject,
		WantAuthnRequestsSigned: cfg.SAML.WantAuthnRequestsSigned, Logger: log, Now: now}
	if f, ok := d.Directory.(legacy.EmailFinder); ok {
		samlIdP.Emails = f
	}
	upstreams := &webupstream.Handler{Pages: pages, Cookies: cookies, Flow: flow, Providers: ups, Store: d.Store,
		Directory: d.Directory, Subjects: subjects, SignIn: signIn, Audit: auditLog, EndSession: logouts.EndSession,
		Key: secrets[secretUpstream], LimitAnonymous: limit.Wrap, SessionLifetime: cfg.Session.Lifetime, Logger: log, Now: now,
		Observer: s.metrics}
	acct := &account.Handler{Pages: pages, Cookies: cookies, Provider: s.provider, Consents: d.Store, Sessions: d.Store,
		Scopes: pol.DescribeScopes, Member: flow.Member, EndSession: logouts.EndSession, AppLogout: logouts.AppLogout, Audit: auditLog.Write,
		Launch: samlIdP.Launch, Playground: cfg.PlaygroundEnabled(), Logger: log,
		EndAll: func(ctx context.Context, subject string) (*account.EndedAll, error) {
			return endAll(ctx, d.Store, logouts, subject)
		}}
	if len(ups.List()) > 0 {
		acct.Linked, acct.Upstreams = upstreams.Linked, flow.Upstreams
	}
	s.ready = &readiness{cfg: cfg.Health, store: d.Store, dir: d.Directory, keys: keys, now: now}
	// The second-factor step is the flow's SecondFactor and finishes sign-ins through the flow
	// (the one cycle between parts: set once, here).
	second := &webmfa.Handler{Pages: pages, Cookies: cookies, Flow: flow, MFA: factors, Store: d.Store, Subjects: subjects,
		Audit: auditLog.Write, Observer: s.metrics, Logger: log, Now: now, StepUpMaxAge: cfg.MFA.StepUpAge()}
	flow.SecondFactor = second
	acct.StepUp, acct.NeedsStepUp = flow.StepUpFirst, flow.NeedsStepUpFirst
	samlIdP.SecondFactor = second
	parts := []web.Mounter{
		pages,
		healthRoutes{s.ready},
		protocolRoutes{provider: s.provider, limit: limit, callback: flow.Callback, authorize: flow.Authorize},
		flow,
		out,
		acct,
		upstreams,
		second,
		samlIdP,
		&handoff.Handler{Pages: pages, Cookies: cookies, Flow: flow, Provider: s.provider, Store: d.Store,
			Directory: d.Directory, Subjects: subjects, Audit: auditLog, Sealer: sealer, Redeemer: redeemer,
			Website: ams.website, DefaultClient: cfg.AMS.DefaultClient, Issuer: cfg.Issuer,
			HTTPS: https, LimitAnonymous: limit.Wrap, Logger: log, Now: now},
	}
	if cfg.PlaygroundEnabled() {
		// Said once at start-up: the playground's client is trusted (no consent page) and
		// public; it is on by default only with a loopback issuer (config.PlaygroundEnabled).
		log.Info("the playground is on: /playground and its trusted public client sign members in without a consent page; playground: false turns it off",
			"url", cfg.Issuer+playground.Path, "client", playground.ClientID, "default", cfg.Playground == nil)
		parts = append(parts, &playground.Handler{Pages: pages, Issuer: cfg.Issuer,
			Scopes: []string{"openid", "profile", "email", "offline_access", ScopeMembership, ScopeRoles}})
	}
	if ams.pages.Handler != nil {
		parts = append(parts, ams.pages)
	}
	var storeBudget time.Duration // one bound for a request's store calls (PostgreSQL)
	if rb, ok := d.Store.(store.RequestBudgeter); ok {
		storeBudget = rb.RequestBudget()
	}
	// The discovery document and the JWKS are served from memory (sso.Provider's
	// DiscoveryHandler and JWKSHandler) ahead of echo: they need neither the client IP nor the
	// member memo.
	// The protocol's JSON endpoints for programs get the API security headers (web.RouterConfig.APIRoutes).
	router := web.New(web.RouterConfig{TrustedProxies: cfg.TrustedProxies, HTTPS: https, Renderer: pages, Logger: log,
		Requests: s.metrics, StoreBudget: storeBudget, RouteContexts: protocolContexts(),
		APIRoutes: []string{sso.PathToken, sso.PathUserinfo, sso.PathIntrospect, sso.PathRevoke, sso.PathDeviceAuthzEP},
		Documents: map[string]http.Handler{sso.PathDiscovery: s.provider.DiscoveryHandler(), sso.PathKeys: s.provider.JWKSHandler()}})
	s.echo, s.handler = router.Echo, router
	// Each path refuses the methods it does not route with a 405 naming those it does.
	router.Mount(parts...)
	s.instrument(s.metrics)
	if consoleOn {
		if err := s.newConsole(chk, consoleSecret, secrets[secretCookieMAC], secrets[secretCookieEnc]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ticketSealer seals the bridge's tickets (logout, hand-off) under the provider's crypto key:
// sso.NewCrypto is what Provider.Crypto is, so the tickets and op's sealed values share one
// key and stay apart by purpose.
func ticketSealer(opKey [32]byte) (*identity.Sealer, error) {
	crypto, err := sso.NewCrypto(opKey)
	if err != nil {
		return nil, fmt.Errorf("bridge: ticket crypto: %w", err)
	}
	return identity.NewSealer(crypto), nil
}

// Handler is the bridge's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Run does the background work until ctx ends: purging expired rows, rotating keys, shadow
// provisioning and its outbox. Key rotation, purges, the AMS change poller and the reconcile
// run on the replica holding their lease (Deps.Cluster); every replica delivers the outbox and
// prunes its own in-memory limits. It returns when all of it has stopped (deliveries in flight
// are finished and recorded), so the caller may close the store then.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(func(ctx context.Context) { s.cluster.Lead(ctx, leaseKeys, s.rotateKeys) })
	run(func(ctx context.Context) { s.cluster.Lead(ctx, leasePurge, s.purge) })
	run(s.throttle.Run)
	run(s.clientThrottle.Run)
	run(s.deviceNetworks.Run)
	run(s.shadow.Run)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.anonLimit.Prune()
			s.admin.SweepAuthFailures(ctx)
		}
	}
}

// keyRotationEvery is how often the lease holder checks whether a key is due.
const keyRotationEvery = time.Hour

// rotateKeys rotates the signing keys while this replica holds the lease: at once (the
// previous holder may have died before its check) and then every keyRotationEvery; when the
// keys changed, every replica reloads them.
func (s *Server) rotateKeys(ctx context.Context) {
	for {
		_, before := s.keys.JWKS()
		samlChanged, samlErr := s.samlKeys.Rotate(ctx)
		if samlErr != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "saml key rotation failed", "err", samlErr)
		}
		if err := s.keys.Rotate(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.ErrorContext(ctx, "key rotation failed", "err", err)
		} else if _, after := s.keys.JWKS(); after != before || samlChanged {
			if err := s.cluster.Notify(ctx, cluster.TopicKeys); err != nil {
				s.log.WarnContext(ctx, "keys rotated, but the other replicas could not be told; they reload at their next check", "err", err)
			}
		}
		if !sleepCtx(ctx, keyRotationEvery) {
			return
		}
	}
}

// purge deletes expired rows every minute while this replica holds the lease, and audit
// events past retention every hour.
func (s *Server) purge(ctx context.Context) {
	var lastAuditPurge time.Time
	for sleepCtx(ctx, time.Minute) {
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

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
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

// totpIssuer is the name authenticator apps show for the bridge's codes.
func totpIssuer(org string) string {
	if org == "" {
		return "ssobridge"
	}
	return org
}
