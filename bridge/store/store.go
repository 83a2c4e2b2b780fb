package store

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// Subject maps an opaque OIDC subject to the AMS contact key it was derived from, so that the
// bridge can look the member up again (refresh, userinfo, change sync).
type Subject struct {
	Subject   string
	MemberKey string
	Login     string // last seen login, for admin listings only
	FirstSeen time.Time
	LastSeen  time.Time
}

// SubjectStore keeps the subject -> member key map.
type SubjectStore interface {
	// PutSubject inserts or updates (login, last seen) the mapping.
	PutSubject(ctx context.Context, s *Subject) error
	// SubjectByID returns sso.ErrNotFound when unknown.
	SubjectByID(ctx context.Context, subject string) (*Subject, error)
	SubjectByMemberKey(ctx context.Context, memberKey string) (*Subject, error)
}

// Consent is what a member agreed a client may receive.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    []string // sorted, de-duplicated
	GrantedAt time.Time
}

// ConsentStore keeps consents per member and client.
type ConsentStore interface {
	// PutConsent replaces the consent of (subject, client).
	PutConsent(ctx context.Context, c *Consent) error
	// Consent returns sso.ErrNotFound when none.
	Consent(ctx context.Context, subject, clientID string) (*Consent, error)
	Consents(ctx context.Context, subject string) ([]*Consent, error)
	DeleteConsent(ctx context.Context, subject, clientID string) error
}

// AuditEvent is one line of the audit log. Detail never holds passwords, tokens or secrets.
type AuditEvent struct {
	ID       int64
	Time     time.Time
	Event    string // e.g. login.success, login.failure, token.refresh_reuse, admin.client_add
	Subject  string
	Login    string
	ClientID string
	IP       string
	Detail   string // a short reason, e.g. "locked_out"
}

// AuditFilter selects audit events; zero fields do not filter. Newest first.
type AuditFilter struct {
	Event    string
	Subject  string
	ClientID string
	Since    time.Time
	// Until, when set, keeps events before it (Since <= time < Until).
	Until time.Time
	Limit int // default 100
}

// AuditLog appends and reads audit events.
type AuditLog interface {
	Audit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// PurgeAudit deletes events older than before (retention) and returns how many.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// HandoffGuard remembers AMS tokens (by hash) already redeemed, so a replayed hand-off is
// refused even though the AMS may not say so itself.
type HandoffGuard interface {
	// UseHandoffToken records the hash as used until expires; sso.ErrConflict when it was
	// already used (and has not expired).
	UseHandoffToken(ctx context.Context, hash string, expires time.Time) error
	// ShortenHandoffToken brings the guard of hash forward to until when it ends later (a
	// failed hand-off is kept only as long as its replay window); unknown hashes are ignored.
	ShortenHandoffToken(ctx context.Context, hash string, until time.Time) error
}

// Store is the bridge's whole store.
type Store interface {
	sso.Store
	SubjectStore
	ConsentStore
	AuditLog
	HandoffGuard
	ShadowStore
	Outbox
	UpstreamStore
	OutboxAdmin
	FactorStore
	SAMLStore
	SignInStore
	SessionStore
	CounterStore
	ConsoleSessionStore
	ClientRemover
	SAMLRemover
	// sso.CodeRequestReader: a code is found by its request, so the provider never looks one
	// up by its hash (SQLite keeps no index of them), also through a wrapper of the store.
	sso.CodeRequestReader
	SAMLReplacer
}

// ClientRemoval is what removing a client deleted with it, counted in the deletion's own
// transaction (so an administrator sees what was lost, not an estimate read before).
type ClientRemoval struct {
	Existed bool // the client was there (the deletion is idempotent)
	// Grants are the live grants with a refresh token revoked (every family of the client is
	// revoked; those without a refresh token or expired are not counted).
	Grants   int
	Consents int // members' consents to it
	// Events are its outbox events not delivered (pending, in flight, dead) deleted.
	Events int
	// Sessions are its session participations deleted: the sessions it took part in, live,
	// ended or expired but not purged yet (it is taken out of each).
	Sessions int
	// ShadowUsers are its provisioned users' records.
	ShadowUsers int
	// Requests are its sign-in requests deleted (pending, signed in, with a code issued or
	// redeemed); Devices its device authorizations (RFC 8628) deleted.
	Requests, Devices int
}

// ClientRemover deletes a client and says what it deleted.
type ClientRemover interface {
	// DeleteClientCounted is sso.Store's DeleteClient (the same deletion, in one transaction)
	// with the counts of what it deleted; a client that is not there is Existed false.
	DeleteClientCounted(ctx context.Context, id string) (ClientRemoval, error)
}

// SAMLRemoval is what removing a SAML service provider deleted with it, counted in the
// deletion's own transaction (the SP's counterpart of ClientRemoval).
type SAMLRemoval struct {
	// Participations are its places in sessions (a NameID and SessionIndex per session it
	// signed in to), deleted: those sessions' logouts no longer reach it.
	Participations int
	// Events are its outbox events not delivered (pending, in flight, dead) deleted; none when
	// it has no app id (its events name no app to tell them from the others by).
	Events int
}

// SAMLRemover deletes a SAML service provider and says what it deleted.
type SAMLRemover interface {
	// DeleteSAMLServiceProviderCounted is SAMLStore's DeleteSAMLServiceProvider (the same
	// deletion, in one transaction; sso.ErrNotFound when unknown) with the counts of what it
	// deleted.
	DeleteSAMLServiceProviderCounted(ctx context.Context, entityID string) (SAMLRemoval, error)
}

// SAMLReplacer gives a registered SAML service provider new metadata in place.
type SAMLReplacer interface {
	// ReplaceSAMLServiceProvider sets the settings and metadata of the SP old.EntityID, in one
	// statement, only while its stored settings and metadata are still old's (compare-and-set
	// against the record as it was read): of two replacements read from one record, one is
	// stored and the other is sso.ErrConflict, and nothing of it is changed. The entity id, the
	// app id (settings keep old's id), the creation time, its places in sessions and its events
	// stay. sso.ErrNotFound when no SP has the entity id.
	ReplaceSAMLServiceProvider(ctx context.Context, old *SAMLServiceProvider, settings, metadata []byte) error
}
