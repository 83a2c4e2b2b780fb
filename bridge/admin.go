package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web/console"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// AdminHandler is the admin HTTP API (admin.Service.Handler) with /metrics, /healthz and
// /readyz (opsHandler), or nil when the admin API is off. Serve it on Config.Admin.Listen,
// never on the public listener.
func (s *Server) AdminHandler() http.Handler {
	if !s.cfg.Admin.Enabled() {
		return nil
	}
	var h http.Handler = s.admin.Handler(s.cfg.Admin.Token)
	if s.console != nil {
		// The console and the API share the listener, not their credentials: the console reads
		// only its own cookie, the API only its bearer token.
		mux := http.NewServeMux()
		mux.Handle(console.Path, s.console)
		mux.Handle("/", h)
		h = mux
	}
	return s.opsHandler(h)
}

// adminParts are what the administration is built from, in the server and in OpenAdmin.
type adminParts struct {
	store    store.Store
	registry *sso.Registry
	ender    admin.SessionEnder
	policy   *policy.Engine
	access   *access.Checker
	audit    admin.AuditFunc
	subjects *identity.SubjectMapper
	dir      admin.Members
	records  admin.Records
	ams      admin.AMSChecks
	changes  admin.Notifier
	// signingAlgs are the algorithms with signing keys (config.Config.SigningAlgorithms).
	signingAlgs []string
	// clientRefs: the configuration's settings that name a client (clientReferences).
	clientRefs map[string]string
	// samlIDs: the configuration's SAML SPs' ids (configSAMLIDs).
	samlIDs map[string]string
	// signingKeys: the server's key manager, or one opened on the store (OpenAdmin).
	signingKeys admin.SigningKeyManager
	log         *slog.Logger
	now         func() time.Time
}

// newAdmin builds the administration once from its parts.
func newAdmin(p adminParts) *admin.Service {
	svc := &admin.Service{
		Store: p.store, Registry: p.registry, SessionEnder: p.ender, Audit: p.audit,
		Subjects: p.subjects, Directory: p.dir, Records: p.records, AMS: p.ams, Changes: p.changes, Log: p.log, Now: p.now,
		Factors: p.store, ConsoleSessions: p.store, SigningAlgs: p.signingAlgs, SigningKeyManager: p.signingKeys, ClientRefs: p.clientRefs,
		ConfigSAMLIDs: p.samlIDs,
		Previewer:     &claimsPreviewer{clients: p.registry, members: p.dir, policy: p.policy, access: p.access, subjects: p.subjects, now: p.now},
	}
	// Issuing an invitation needs only the store, the audit and the clock of the second-factor
	// service (the server's and the CLI's alike).
	svc.Invites = &mfa.Service{Store: p.store, Audit: p.audit, Now: p.now}
	if k, ok := p.dir.(admin.MemberKeys); ok {
		svc.Keys = k
	}
	return svc
}

// OpenAdmin opens the administration for the CLI from a checked configuration, on what the
// server runs on but without its HTTP parts, keys or provider: the store, the member directory
// (legacy.member_key settled as at start-up; opened at the first login to resolve, so that
// commands which resolve none do not wait for the AMS), the installation secrets, the client
// registry, the claims policy and access decision, and a session ender that queues the
// back-channel logouts in the outbox (the running server's deliverer sends them). Closing
// releases all of it.
func OpenAdmin(ctx context.Context, chk *config.Checked) (svc *admin.Service, closeFn func() error, err error) {
	log := slog.New(slog.DiscardHandler)
	a := &App{Config: chk.Config, standing: standingRule(chk)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	kek, err := a.open(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	cfg := a.Config
	secrets, err := identity.OpenSecrets(ctx, a.Store, kek, secretSubject, secretSID)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: %w", err)
	}
	statics := StaticClients(chk)
	if cl, _, ok := consoleClient(chk); ok { // its id is taken, its secret unused here
		statics = append(statics, cl)
	}
	reg, err := sso.NewRegistry(ctx, a.Store, statics, time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: clients: %w", err)
	}
	pol := chk.Policy
	decide := access.New(pol, provisioning.RequireCurrentClients(cfg.Provisioning), log)
	sidKey := secrets[secretSID]
	// Sessions end with their back-channel logouts queued; the running server's outbox sends them.
	ender := &backchannel.Logouts{Store: a.Store, Clients: registryClients{reg},
		PublicSID: func(id string) string { return sso.PublicSID(sidKey, id) }, Log: log}
	// And the SAML SPs' back-channel single logouts (the SPs' registry only: no keys here).
	samlSPs, err := saml.NewRegistry(cfg.SAML, a.Store, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: saml service providers: %w", err)
	}
	samlSPs.EmailVerified = cfg.Policy.EmailVerified // as the server builds them
	ender.Others = (&saml.Logouts{Store: a.Store, Registry: samlSPs, Issuer: cfg.Issuer, Logger: log, Now: time.Now}).BackChannel
	// The signing keys as the server keeps them (listed, withdrawn; none made here but a
	// withdrawal's successor). Under keys.rsa_signer: openssl a withdrawal's successor is
	// self-tested with this host's libcrypto, as a server's withdrawal does, and refused
	// (nothing changed) when it fails, or when libcrypto cannot be opened here: the servers
	// would refuse to sign with it (review s27 R4-8). Other commands do not need libcrypto.
	kc := signingKeyConfig(cfg, kek, log)
	if cfg.Keys.RSASigner == "openssl" {
		kc.OpenSSL, _ = openRSASigner(ctx, cfg.Keys.RSASigner, log) // nil: ErrNoOpenSSL at a withdrawal
		kc.RequireOpenSSL = true
	}
	signingKeys, err := sso.OpenKeyManager(a.Store, kc)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: signing keys: %w", err)
	}
	// And the SAML signing keys (listed, withdrawn; none made here but a withdrawal's successor).
	samlKeys, err := saml.OpenKeyRingWithOpenSSL(a.Store, kek, cfg.SAML, chk.IssuerURL.Hostname(), log, time.Now,
		kc.OpenSSL, kc.RequireOpenSSL)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: saml signing keys: %w", err)
	}
	st := a.Store
	svc = newAdmin(adminParts{store: st, registry: reg, ender: ender, policy: pol, access: decide, records: st,
		audit: func(ctx context.Context, e *store.AuditEvent) {
			if e.Time.IsZero() {
				e.Time = time.Now()
			}
			_ = st.Audit(ctx, e)
		},
		subjects: identity.NewSubjectMapper(secrets[secretSubject], st), dir: &lazyMembers{app: a, log: log},
		changes: a.Cluster, signingAlgs: cfg.SigningAlgorithms(), signingKeys: signingKeys, clientRefs: clientReferences(cfg), samlIDs: configSAMLIDs(cfg),
		log: log, now: time.Now})
	svc.SAMLKeyManager = samlKeyAdmin{samlKeys}
	ender.Audit = svc.Audit // the SAML SPs an end left untold (backchannel.AuditUntold)
	return svc, a.Close, nil
}

// lazyMembers opens the member directory at its first lookup.
type lazyMembers struct {
	app  *App
	log  *slog.Logger
	once sync.Once
	err  error
}

func (l *lazyMembers) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	l.once.Do(func() { l.err = l.app.openDirectory(ctx, l.log) })
	if l.err != nil {
		return nil, fmt.Errorf("member directory: %w", l.err)
	}
	return l.app.Directory.MemberByLogin(ctx, login)
}

// registryClients adapts the client registry to provisioning.ClientSource.
type registryClients struct{ r *sso.Registry }

func (c registryClients) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	return c.r.ClientConfig(ctx, id)
}

// clientReferences are the settings of cfg that name a client by id, per id: a provisioning
// target, ams.default_client and a policies[<id>] entry. Start-up refuses a configuration whose
// reference names no client (checkProvisioningClients, checkDefaultClient, checkPolicyIDs), so
// the administration does not delete one.
func clientReferences(cfg config.Config) map[string]string {
	refs := make(map[string]string, len(cfg.Provisioning)+1+len(cfg.Policy.Policies))
	for id := range cfg.Provisioning {
		refs[id] = "provisioning." + id
	}
	if id := cfg.AMS.DefaultClient; id != "" {
		if _, ok := refs[id]; !ok {
			refs[id] = "ams.default_client"
		}
	}
	for id := range cfg.Policy.Policies {
		if _, ok := refs[id]; !ok {
			refs[id] = "policies[" + id + "]"
		}
	}
	return refs
}
