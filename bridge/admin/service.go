package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Store is what the administration reads and changes in the bridge's store.
type Store interface {
	SubjectByID(ctx context.Context, subject string) (*store.Subject, error)
	ListRefreshTokens(ctx context.Context, subject, clientID string) ([]*sso.RefreshToken, error)
	Family(ctx context.Context, familyID string) (*sso.RefreshToken, error)
	RevokeFamily(ctx context.Context, familyID string) error
	RevokeGrants(ctx context.Context, subject, clientID string) (int, error)
	Session(ctx context.Context, id string) (*sso.Session, error)
	Sessions(ctx context.Context, subject string) ([]*sso.Session, error)
	Client(ctx context.Context, id string) (*sso.StoredClient, error)
	Clients(ctx context.Context) ([]*sso.StoredClient, error)
	CreateClient(ctx context.Context, c *sso.StoredClient) error
	UpdateClient(ctx context.Context, c *sso.StoredClient) error
	// DeleteClientCounted deletes a client and says what it deleted with it.
	DeleteClientCounted(ctx context.Context, id string) (store.ClientRemoval, error)
}

// ClientRegistry is the running client registry: the static clients (from the configuration
// file) are read-only to the administration.
type ClientRegistry interface {
	All(ctx context.Context) []*sso.ClientConfig
	IsStatic(id string) bool
}

// SessionEnder ends one session and tells its apps (back-channel logout through the outbox).
type SessionEnder interface {
	EndSession(ctx context.Context, sess *sso.Session) error
}

// SubjectMapper derives a member's subject from the AMS member key.
type SubjectMapper interface {
	Subject(memberKey string) string
}

// Members resolves a login to a member (the AMS directory).
type Members interface {
	MemberByLogin(ctx context.Context, login string) (*legacy.Member, error)
}

// AuditFunc writes one audit event (its time set when zero).
type AuditFunc func(ctx context.Context, e *store.AuditEvent)

// Service is the administration. Its fields are its dependencies; the composition root sets
// them once. Directory may be nil (then only subjects are accepted, not logins); Now and Log
// default to time.Now and a logger that discards.
type Service struct {
	Store        Store
	Registry     ClientRegistry
	SessionEnder SessionEnder
	Previewer    Previewer
	Audit        AuditFunc
	Subjects     SubjectMapper
	Directory    Members
	// Keys reads a member by member key (MemberRoles); Records are consents, audit log and
	// outbox (the console's pages); AMS are the connector's diagnostics. Each may be nil.
	Keys    MemberKeys
	Records Records
	AMS     AMSChecks
	// MFA reads members' second factors (nil: none to show).
	MFA FactorReader
	Log *slog.Logger
	Now func() time.Time
	// LogLevel is the process's run-time log level (GET/PUT /admin/log-level); nil: it
	// cannot be changed (the endpoint answers 404).
	LogLevel *slog.LevelVar
	// Factors resets members' second factors (mfa.go); nil: no reset.
	Factors FactorResetter
	// Invites issues enrolment invitations (mfa.go); nil: none.
	Invites InviteIssuer
	// Changes tells every replica (and this process) that clients changed, so that their
	// client caches reload at once; nil: they find out at their next version check.
	Changes Notifier
	// ConsoleSessions ends administrators' console sessions when their sessions are ended
	// or their second factors reset; nil: no console sessions to end.
	ConsoleSessions ConsoleSessionEnder
	// SigningAlgs are the algorithms the bridge keeps signing keys for (the configuration's
	// keys.algorithms and RS256): a client added or edited with another id_token_signing_alg
	// is refused, as a client of the configuration file is at start-up. Empty: RS256 only,
	// whose key the key manager always keeps.
	SigningAlgs []string
	// ClientRefs names, per client id, the setting of the configuration file that refers to
	// the client (provisioning.<id>, ams.default_client): such a client cannot be deleted, or
	// the next start-up would refuse the configuration. Nil: none.
	ClientRefs map[string]string
	// ConfigSAMLIDs are the ids of the configuration file's SAML service providers, each with
	// its field: a client added with one is refused (one id names one app: policies[<id>]
	// and the audit's client name). The store refuses a stored SP's id itself
	// (store.ErrAppIDTaken). Nil: none.
	ConfigSAMLIDs map[string]string
	// SigningKeyManager lists and withdraws the signing keys (keys.go); nil: not here.
	SigningKeyManager SigningKeyManager
	// SAMLKeyManager lists and withdraws the SAML signing keys (keys.go); nil: not here.
	SAMLKeyManager SAMLKeyManager
	// SAMLSettings shows SAML SPs and changes registered ones' settings (saml.go); nil: not here.
	SAMLSettings SAMLServiceProviders

	failures authFailures // wrong admin tokens per source address (authlimit.go)
}

// ConsoleSessionEnder ends every live admin console session of a member
// (store.ConsoleSessionStore).
type ConsoleSessionEnder interface {
	EndConsoleSessions(ctx context.Context, subject string, at time.Time, reason string) (int, error)
}

// endConsoleSessions ends subject's console sessions, if any are kept, and returns how many.
func (a *Service) endConsoleSessions(ctx context.Context, subject, reason string) (int, error) {
	if a.ConsoleSessions == nil || subject == "" {
		return 0, nil
	}
	n, err := a.ConsoleSessions.EndConsoleSessions(ctx, subject, a.now(), reason)
	if err != nil {
		return 0, fmt.Errorf("admin: end console sessions: %w", err)
	}
	return n, nil
}

// Notifier tells the replicas that something they cache changed (cluster.Notifier).
type Notifier interface {
	Notify(ctx context.Context, topic string) error
}

// clientsChanged tells the replicas after a client change was committed. A failure is only
// logged: the change is stored, and the replicas' periodic version check finds it.
func (a *Service) clientsChanged(ctx context.Context) {
	if a.Changes == nil {
		return
	}
	if err := a.Changes.Notify(ctx, cluster.TopicClients); err != nil {
		a.log().WarnContext(ctx, "admin: clients changed, but the replicas could not be told; they reload at their next check", "err", err)
	}
}

// Errors of the administration (the HTTP API answers them 404, 400 and 409).
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid request")
	ErrStatic   = errors.New("the client is defined in the configuration file; change it there")
)

func (a *Service) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Service) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

func (a *Service) record(ctx context.Context, actor, event, subject, clientID, detail string) {
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: event, Subject: subject, ClientID: clientID,
		Detail: "by " + actor + ": " + detail})
}

// Filter selects tokens or sessions: by id (a refresh-token family or session id), by member
// (login or subject) and/or by client. At least one field must be set to revoke.
type Filter struct {
	ID      string `json:"id,omitempty"`
	Login   string `json:"login,omitempty"`
	Subject string `json:"subject,omitempty"`
	Client  string `json:"client,omitempty"`
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
func (a *Service) subject(ctx context.Context, f Filter) (string, error) {
	if f.Subject != "" {
		return f.Subject, nil
	}
	if f.Login == "" {
		return "", nil
	}
	if a.Directory == nil {
		return "", fmt.Errorf("%w: no member directory to resolve a login; give the subject", ErrInvalid)
	}
	m, err := a.Directory.MemberByLogin(ctx, f.Login)
	if errors.Is(err, legacy.ErrNotFound) {
		return "", fmt.Errorf("%w: no member with login %q", ErrNotFound, f.Login)
	}
	if err != nil {
		return "", fmt.Errorf("admin: resolve login: %w", err)
	}
	return a.Subjects.Subject(m.Key), nil
}

// login is the login last stored for a subject ("" when unknown).
func (a *Service) login(ctx context.Context, subject string) string {
	if rec, err := a.Store.SubjectByID(ctx, subject); err == nil {
		return rec.Login
	}
	return ""
}
