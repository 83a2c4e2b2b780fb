package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Admin is the administration of tokens, sessions and clients, shared by the admin HTTP API
// and the CLI (ssobridge tokens|sessions|clients). Every action is written to the audit log
// with the actor.
type Admin struct {
	st       store.Store
	dir      legacy.Directory // resolves logins; nil: only subjects are accepted
	subjects *subjectMapper
	static   map[string]bool
	audit    func(ctx context.Context, e *store.AuditEvent)
	now      func() time.Time
	// endSession ends one session; the server sets it to the shadow service's EndSession so
	// that the session's apps get back-channel logout (default: the store alone).
	endSession func(ctx context.Context, sess *sso.Session) error
}

// Admin errors.
var (
	ErrAdminNotFound = errors.New("not found")
	ErrAdminInvalid  = errors.New("invalid request")
	ErrAdminStatic   = errors.New("the client is defined in the configuration file; change it there")
)

// NewAdmin builds the administration on a store and (optionally) the member directory. audit
// may be nil: events then go to the store's audit log only.
//
// The subject key is opened with the key-encryption key of cfg (keys.encryption_key, or the
// data dir's key file).
func NewAdmin(ctx context.Context, cfg Config, st store.Store, dir legacy.Directory, audit func(context.Context, *store.AuditEvent)) (*Admin, error) {
	kek, err := signingKeyEncryption(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	secrets, err := openSecrets(ctx, st, kek, secretSubject, secretSID)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return newAdmin(ctx, cfg, st, dir, audit, secrets[secretSubject], secrets[secretSID])
}

func newAdmin(ctx context.Context, cfg Config, st store.Store, dir legacy.Directory, audit func(context.Context, *store.AuditEvent), key, sidKey []byte) (*Admin, error) {
	a := &Admin{st: st, dir: dir, subjects: newSubjectMapper(key, st), static: map[string]bool{}, audit: audit, now: time.Now}
	for _, c := range StaticClients(cfg) {
		a.static[c.ID] = true
	}
	if a.audit == nil {
		a.audit = func(ctx context.Context, e *store.AuditEvent) { _ = st.Audit(ctx, e) }
	}
	// Sessions end through a shadow service so that their apps get back-channel logout even
	// when the CLI does it: the running server's deliverer sends what is queued in the outbox.
	reg, err := sso.NewRegistry(ctx, st, StaticClients(cfg), time.Second)
	if err != nil {
		return nil, fmt.Errorf("admin: clients: %w", err)
	}
	sh := provisioning.New(provisioning.Options{Config: cfg.Shadow, Targets: cfg.Provisioning, Store: st, Directory: dir,
		Clients: registryClients{reg}, Issuer: cfg.Issuer,
		PublicSID: func(id string) string { return sso.PublicSID(sidKey, id) }})
	a.endSession = sh.EndSession
	return a, nil
}

// Filter selects tokens or sessions: by id (a refresh-token family or session id), by member
// (login or subject) and/or by client. At least one field must be set.
type Filter struct {
	ID      string `json:"id,omitempty"`
	Login   string `json:"login,omitempty"`
	Subject string `json:"subject,omitempty"`
	Client  string `json:"client,omitempty"`
}

// registryClients adapts the client registry to provisioning.ClientSource.
type registryClients struct{ r *sso.Registry }

func (c registryClients) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	return c.r.ClientConfig(ctx, id)
}

func (f Filter) empty() bool { return f.ID == "" && f.Login == "" && f.Subject == "" && f.Client == "" }

func (f Filter) String() string {
	s := ""
	for _, kv := range [][2]string{{"id", f.ID}, {"login", f.Login}, {"subject", f.Subject}, {"client", f.Client}} {
		if kv[1] != "" {
			if s != "" {
				s += " "
			}
			s += kv[0] + "=" + kv[1]
		}
	}
	return s
}

// subject resolves the filter's member to a subject ("" when the filter names none).
func (a *Admin) subject(ctx context.Context, f Filter) (string, error) {
	if f.Subject != "" {
		return f.Subject, nil
	}
	if f.Login == "" {
		return "", nil
	}
	if a.dir == nil {
		return "", fmt.Errorf("%w: no member directory to resolve a login; give the subject", ErrAdminInvalid)
	}
	m, err := a.dir.MemberByLogin(ctx, f.Login)
	if errors.Is(err, legacy.ErrNotFound) {
		return "", fmt.Errorf("%w: no member with login %q", ErrAdminNotFound, f.Login)
	}
	if err != nil {
		return "", fmt.Errorf("admin: resolve login: %w", err)
	}
	return a.subjects.Subject(m.Key), nil
}

func (a *Admin) record(ctx context.Context, actor, event, subject, clientID, detail string) {
	a.audit(ctx, &store.AuditEvent{Time: a.now(), Event: event, Subject: subject, ClientID: clientID,
		Detail: "by " + actor + ": " + detail})
}

// TokenInfo is one live grant: a refresh-token family (its current token), never the token.
type TokenInfo struct {
	ID        string    `json:"id"` // family id
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"subject"`
	Login     string    `json:"login,omitempty"`
	Scopes    []string  `json:"scopes"`
	SessionID string    `json:"session_id,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *Admin) login(ctx context.Context, subject string) string {
	if rec, err := a.st.SubjectByID(ctx, subject); err == nil {
		return rec.Login
	}
	return ""
}

// Tokens lists live grants (refresh-token families) matching f (all when f is empty).
func (a *Admin) Tokens(ctx context.Context, actor string, f Filter) ([]TokenInfo, error) {
	sub, err := a.subject(ctx, f)
	if err != nil {
		return nil, err
	}
	rts, err := a.st.ListRefreshTokens(ctx, sub, f.Client)
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens: %w", err)
	}
	out := []TokenInfo{}
	for _, rt := range rts {
		if f.ID != "" && rt.FamilyID != f.ID {
			continue
		}
		out = append(out, TokenInfo{ID: rt.FamilyID, ClientID: rt.ClientID, Subject: rt.Subject, Login: a.login(ctx, rt.Subject),
			Scopes: rt.Scopes, SessionID: rt.SessionID, AuthTime: rt.AuthTime, CreatedAt: rt.CreatedAt, ExpiresAt: rt.ExpiresAt})
	}
	a.record(ctx, actor, "admin.tokens_list", sub, f.Client, fmt.Sprintf("%s (%d)", f, len(out)))
	return out, nil
}

// RevokeTokens revokes the grants matching f (which must not be empty) with their access
// tokens and returns how many grants it revoked.
func (a *Admin) RevokeTokens(ctx context.Context, actor string, f Filter) (int, error) {
	if f.empty() {
		return 0, fmt.Errorf("%w: say which tokens: id, login, subject or client", ErrAdminInvalid)
	}
	sub, err := a.subject(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	switch {
	case f.ID == "" && sub != "":
		if n, err = a.st.RevokeGrants(ctx, sub, f.Client); err != nil {
			return 0, fmt.Errorf("admin: revoke tokens: %w", err)
		}
	default:
		rts, err := a.st.ListRefreshTokens(ctx, sub, f.Client)
		if err != nil {
			return 0, fmt.Errorf("admin: revoke tokens: %w", err)
		}
		for _, rt := range rts {
			if f.ID != "" && rt.FamilyID != f.ID {
				continue
			}
			if err := a.st.RevokeFamily(ctx, rt.FamilyID); err != nil {
				return n, fmt.Errorf("admin: revoke tokens: %w", err)
			}
			n++
		}
		if f.ID != "" && n == 0 {
			return 0, fmt.Errorf("%w: no live grant %q", ErrAdminNotFound, f.ID)
		}
	}
	a.record(ctx, actor, "admin.tokens_revoke", sub, f.Client, fmt.Sprintf("%s (%d)", f, n))
	return n, nil
}

// SessionInfo is one live SSO session.
type SessionInfo struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Login     string    `json:"login,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	Clients   []string  `json:"clients"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *Admin) findSessions(ctx context.Context, f Filter) (string, []*sso.Session, error) {
	sub, err := a.subject(ctx, f)
	if err != nil {
		return "", nil, err
	}
	var list []*sso.Session
	if f.ID != "" {
		s, err := a.st.Session(ctx, f.ID)
		if errors.Is(err, sso.ErrNotFound) {
			return sub, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("admin: session: %w", err)
		}
		if sub == "" || s.Subject == sub {
			list = []*sso.Session{s}
		}
	} else if list, err = a.st.Sessions(ctx, sub); err != nil {
		return "", nil, fmt.Errorf("admin: sessions: %w", err)
	}
	if f.Client != "" {
		list = slices.DeleteFunc(list, func(s *sso.Session) bool { return !slices.Contains(s.Clients, f.Client) })
	}
	return sub, list, nil
}

// Sessions lists live sessions matching f (all when f is empty).
func (a *Admin) Sessions(ctx context.Context, actor string, f Filter) ([]SessionInfo, error) {
	sub, list, err := a.findSessions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := []SessionInfo{}
	for _, s := range list {
		out = append(out, SessionInfo{ID: s.ID, Subject: s.Subject, Login: a.login(ctx, s.Subject), AuthTime: s.AuthTime,
			AMR: s.AMR, Clients: s.Clients, CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt})
	}
	a.record(ctx, actor, "admin.sessions_list", sub, f.Client, fmt.Sprintf("%s (%d)", f, len(out)))
	return out, nil
}

// EndSessions ends the live sessions matching f (which must not be empty) and returns how many.
// Tokens already issued stay valid until revoked (RevokeTokens).
func (a *Admin) EndSessions(ctx context.Context, actor string, f Filter) (int, error) {
	if f.empty() {
		return 0, fmt.Errorf("%w: say which sessions: id, login, subject or client", ErrAdminInvalid)
	}
	sub, list, err := a.findSessions(ctx, f)
	if err != nil {
		return 0, err
	}
	if f.ID != "" && len(list) == 0 {
		return 0, fmt.Errorf("%w: no live session %q", ErrAdminNotFound, f.ID)
	}
	for _, s := range list {
		if err := a.endSession(ctx, s); err != nil {
			return 0, fmt.Errorf("admin: end session: %w", err)
		}
	}
	a.record(ctx, actor, "admin.sessions_revoke", sub, f.Client, fmt.Sprintf("%s (%d)", f, len(list)))
	return len(list), nil
}

// ---- clients ----

// ClientInfo is a client as the admin sees it: never the secret or its hash.
type ClientInfo struct {
	sso.ClientConfig
	SecretHash string `json:"secret_hash,omitempty"` // hides the embedded field
	HasSecret  bool   `json:"has_secret"`
	Source     string `json:"source"` // config or store
}

func (a *Admin) clientInfo(c *sso.ClientConfig) ClientInfo {
	src := "store"
	if a.static[c.ID] {
		src = "config"
	}
	return ClientInfo{ClientConfig: *c, HasSecret: c.SecretHash != "", Source: src}
}

// Clients lists the dynamic clients and, when static is given, the static ones first.
func (a *Admin) Clients(ctx context.Context, actor string, static []*sso.ClientConfig) ([]ClientInfo, error) {
	out := []ClientInfo{}
	for _, c := range static {
		out = append(out, a.clientInfo(c))
	}
	stored, err := a.st.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: clients: %w", err)
	}
	for _, sc := range stored {
		if a.static[sc.ID] {
			continue
		}
		c, err := sso.DecodeClient(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, a.clientInfo(c))
	}
	a.record(ctx, actor, "admin.clients_list", "", "", fmt.Sprintf("(%d)", len(out)))
	return out, nil
}

// Client shows one dynamic client, or a static one when found in static.
func (a *Admin) Client(ctx context.Context, actor, id string, static []*sso.ClientConfig) (*ClientInfo, error) {
	a.record(ctx, actor, "admin.client_show", "", id, "")
	for _, c := range static {
		if c.ID == id {
			ci := a.clientInfo(c)
			return &ci, nil
		}
	}
	sc, err := a.st.Client(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("%w: no client %q", ErrAdminNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: client: %w", err)
	}
	c, err := sso.DecodeClient(sc)
	if err != nil {
		return nil, err
	}
	ci := a.clientInfo(c)
	return &ci, nil
}

// CreateClient registers a dynamic client and returns its secret (empty for a public client),
// which is never stored or shown again.
func (a *Admin) CreateClient(ctx context.Context, actor string, c sso.ClientConfig) (*ClientInfo, string, error) {
	if a.static[c.ID] {
		return nil, "", fmt.Errorf("%w: clients[%s].id: already defined in the config file", ErrAdminInvalid, c.ID)
	}
	c.Secret, c.SecretHash, c.Static = "", "", false
	secret := ""
	if !c.Public {
		secret = sso.RandomToken()
		c.Secret = secret
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrAdminInvalid, err)
	}
	sc, err := sso.EncodeClient(&c, a.now())
	if err != nil {
		return nil, "", err
	}
	if err := a.st.CreateClient(ctx, sc); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return nil, "", fmt.Errorf("%w: a client with id %q exists already", ErrAdminInvalid, c.ID)
		}
		return nil, "", fmt.Errorf("admin: create client: %w", err)
	}
	a.record(ctx, actor, "admin.client_add", "", c.ID, "")
	ci := a.clientInfo(&c)
	return &ci, secret, nil
}

// DeleteClient removes a dynamic client and revokes the grants issued to it.
func (a *Admin) DeleteClient(ctx context.Context, actor, id string) error {
	if a.static[id] {
		return ErrAdminStatic
	}
	if _, err := a.st.Client(ctx, id); errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("%w: no client %q", ErrAdminNotFound, id)
	} else if err != nil {
		return fmt.Errorf("admin: client: %w", err)
	}
	if err := a.st.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("admin: delete client: %w", err)
	}
	rts, err := a.st.ListRefreshTokens(ctx, "", id)
	if err != nil {
		return fmt.Errorf("admin: revoke the client's tokens: %w", err)
	}
	for _, rt := range rts {
		if err := a.st.RevokeFamily(ctx, rt.FamilyID); err != nil {
			return fmt.Errorf("admin: revoke the client's tokens: %w", err)
		}
	}
	a.record(ctx, actor, "admin.client_remove", "", id, fmt.Sprintf("%d grants revoked", len(rts)))
	return nil
}

// RotateSecret gives a dynamic confidential client a new secret and returns it (shown once).
func (a *Admin) RotateSecret(ctx context.Context, actor, id string) (string, error) {
	if a.static[id] {
		return "", ErrAdminStatic
	}
	sc, err := a.st.Client(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return "", fmt.Errorf("%w: no client %q", ErrAdminNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("admin: client: %w", err)
	}
	c, err := sso.DecodeClient(sc)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", fmt.Errorf("%w: client %q is public and has no secret", ErrAdminInvalid, id)
	}
	secret := sso.RandomToken()
	c.SecretHash = "sha256:" + sso.HashToken(secret)
	nsc, err := sso.EncodeClient(c, a.now())
	if err != nil {
		return "", err
	}
	nsc.CreatedAt = sc.CreatedAt
	if err := a.st.UpdateClient(ctx, nsc); err != nil {
		return "", fmt.Errorf("admin: rotate secret: %w", err)
	}
	a.record(ctx, actor, "admin.client_rotate_secret", "", id, "")
	return secret, nil
}
