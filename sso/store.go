package sso

import (
	"context"
	"errors"
	"time"
)

// Store errors. Implementations return them (possibly wrapped); callers test with errors.Is.
var (
	// ErrNotFound: no such row, or it has expired.
	ErrNotFound = errors.New("sso store: not found")
	// ErrCodeConsumed: the authorization code was already exchanged (a replay).
	ErrCodeConsumed = errors.New("sso store: authorization code already used")
	// ErrSessionEnded: the sign-in session of the authorization code or device authorization
	// being redeemed has ended or expired, or is no longer held (purged) (IssueTokens, Issue).
	ErrSessionEnded = errors.New("sso store: the sign-in session has ended")
	// ErrTokenRevoked: the refresh token (or its family) was revoked.
	ErrTokenRevoked = errors.New("sso store: token revoked")
	// ErrRefreshReused: a rotated refresh token was presented again outside the grace window;
	// the store has revoked the whole family in the same transaction.
	ErrRefreshReused = errors.New("sso store: rotated refresh token reused; family revoked")
	// ErrConflict: a unique key already exists (e.g. a client id, a device user code).
	ErrConflict = errors.New("sso store: already exists")
	// ErrAuthRequestUsed: the auth request is no longer pending (it was completed already).
	ErrAuthRequestUsed = errors.New("sso store: sign-in request already completed")
	// ErrAuthRequestElsewhere: the auth request is bound to another browser.
	ErrAuthRequestElsewhere = errors.New("sso store: sign-in request belongs to another browser")
	// ErrUnavailable: the store could not be reached (its database is down, restarting or cut
	// off); nothing was changed, or the change was rolled back, and the same request may
	// succeed later. The token endpoint answers 503 temporarily_unavailable, pages a "try
	// again" page.
	ErrUnavailable = errors.New("sso store: temporarily unavailable")
)

// AuthRequest is a pending or completed authorization request. Its ID is random (256 bits)
// and appears in the login page URL; it is not a credential by itself.
//
// It is a state machine whose every transition is a compare-and-set in the store:
//
//	pending (Browser bound at creation when the caller answers /authorize itself,
//	         WithAuthorizeAnswer; else once by BindAuthRequest)
//	  -> completed (CompleteAuthRequest: Subject, SessionID, AuthTime fixed for good)
//	  -> code issued (SaveCode: one code only)
//	  -> code redeemed (IssueTokens with ConsumeCodeHash: once)
//
// A transition from any other state changes nothing and fails.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *time.Duration // nil when the client sent none
	LoginHint           string
	// HintSubject is the subject of a verified id_token_hint: the member the client expects.
	HintSubject string
	UILocales   []string
	// ACRValues are the authentication context classes the client asked for (acr_values).
	ACRValues []string
	// Resources are the resource indicators (RFC 8707) the request named, each one of the
	// client's audiences: the grant's access tokens are for them alone (the family's
	// Audience). Empty: the client's whole set.
	Resources []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Browser identifies (a hash of a cookie nonce) the browser that asked /authorize for the
	// request (WithAuthorizeAnswer) or first opened its login page (BindAuthRequest); empty
	// until bound. Only that browser can complete the request.
	Browser string

	// Set by CompleteAuthRequest when the member has signed in (and consented).
	Done      bool
	Subject   string
	AuthTime  time.Time
	AMR       []string
	SessionID string

	// Set by SaveCode; CodeConsumed is set by IssueTokens when the code is exchanged.
	CodeHash      string
	CodeExpiresAt time.Time
	CodeConsumed  bool
}

// Completion is what a finished sign-in records on an auth request.
type Completion struct {
	Subject   string
	AuthTime  time.Time
	AMR       []string
	SessionID string
	// Browser must equal the request's binding (empty for a request never bound).
	Browser string
}

// AuthRequestStore keeps authorization requests and their codes.
type AuthRequestStore interface {
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// AuthRequest returns the request by id; ErrNotFound when unknown or expired.
	AuthRequest(ctx context.Context, id string) (*AuthRequest, error)
	// BindAuthRequest binds a pending request to a browser, once: nil when it is now bound to
	// browser (also when it already was); ErrAuthRequestElsewhere when it is bound to another;
	// ErrAuthRequestUsed when it is not pending; ErrNotFound when unknown or expired.
	BindAuthRequest(ctx context.Context, id, browser string) error
	// CompleteAuthRequest moves a pending request to completed with the member's session data,
	// once, for the browser it is bound to: ErrAuthRequestUsed when it is not pending (nothing is
	// changed), ErrAuthRequestElsewhere when c.Browser is not its binding, ErrNotFound when
	// unknown or expired.
	CompleteAuthRequest(ctx context.Context, id string, c Completion) error
	// SaveCode attaches the SHA-256 of a fresh authorization code to a done request. A request
	// gets one code only: ErrNotFound when it is not done, expired, or already has a code.
	SaveCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error
	// AuthRequestByCode finds the request by code hash, including consumed ones (CodeConsumed
	// tells): the caller detects replays. ErrNotFound when unknown or the code has expired.
	AuthRequestByCode(ctx context.Context, codeHash string) (*AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
}

// AccessToken is what an access token says about itself. Nothing is stored per access token:
// the token's id (sealed into the opaque token string by the provider's crypto, or the jti of a
// signed JWT access token) encodes the fields below (accesstoken.go), and the token is checked
// against its family (revoked, signed out, member deactivated) and the list of access tokens
// revoked one by one (RevokeAccessToken). A user's token always has a family; a
// client_credentials token has none.
type AccessToken struct {
	IDHash     string // SHA-256 of the token id: what RevokeAccessToken records
	ClientID   string
	Subject    string // empty for client_credentials tokens
	Audience   []string
	Scopes     []string
	FamilyID   string // the grant family it was issued with; empty for client_credentials
	Generation int64  // the family's generation it was issued at
	CreatedAt  time.Time
	ExpiresAt  time.Time

	// Known when the token is issued (for a JWT access token's claims), not encoded in its id.
	SessionID string
	AuthTime  time.Time
	AMR       []string
}

// RefreshToken is a refresh-token family: one row per grant, whatever the number of rotations.
// Rotation replaces Hash (the SHA-256 of the current refresh token) and increments Generation in
// place, with a compare-and-set on Generation. A grant that issued access tokens only (no
// offline_access) has a family too, with an empty Hash, so that revocations reach its tokens.
type RefreshToken struct {
	Hash       string // SHA-256 of the current refresh token; empty when none was issued
	FamilyID   string
	Generation int64 // 0 for the first token, +1 per rotation
	ClientID   string
	Subject    string
	// Audience is the grant's resources (RFC 8707) when the request that started it named some
	// (absolute URIs, never a client id: FamilyResources): its access tokens are for them, or
	// a subset a token request names. Otherwise it is the client's id (every family before
	// session 19 too), and the access tokens are for the client's whole set of audiences.
	Audience  []string
	Scopes    []string
	SessionID string
	AuthTime  time.Time
	AMR       []string
	CreatedAt time.Time
	// ExpiresAt is the absolute end of the family: rotation never extends it.
	ExpiresAt time.Time
	RotatedAt time.Time // last rotation; zero before the first
	Revoked   bool
}

// Issue is everything one token grant writes, applied by IssueTokens in one transaction. A grant
// that writes nothing (client_credentials) need not call IssueTokens.
type Issue struct {
	// ConsumeCodeHash, when set, marks that code consumed first; if it already was,
	// IssueTokens writes nothing else and returns ErrCodeConsumed. A code whose request names
	// a session the store holds as ended or expired (at the store's clock), or no longer
	// holds (Purge deletes ended sessions), is not consumed either: nothing is written and the
	// answer is ErrSessionEnded. A request that names no session (SessionID "") is not
	// refused for it. That check is part of the code's compare-and-set, so a
	// session end racing the exchange either comes first (refused) or after (the end then
	// finds and revokes the grant's session-bound family, as it does every other).
	ConsumeCodeHash string
	// ConsumeCodeRequest is the id of the request whose code ConsumeCodeHash is. A store that
	// finds codes by their request (CodeRequestReader) consumes the code of that request only
	// when its hash is ConsumeCodeHash, and may refuse a code without it; other stores ignore it.
	ConsumeCodeRequest string
	// ConsumeDevice, when set, marks that device authorization consumed first (the device
	// grant), with the same guard as a code: see DeviceConsumption. Only a DeviceStore is
	// given one.
	ConsumeDevice *DeviceConsumption
	// Family, when set, is a new family to insert (ErrConflict when its id exists).
	Family *RefreshToken
	// Rotate, when set, rotates an existing family (see Rotation).
	Rotate *Rotation
}

// Rotation moves a family from the presented token to its successor.
//
// In the transaction: the family must exist and not be expired at Now (else ErrNotFound) nor
// revoked (ErrTokenRevoked). If it is at Generation with Hash OldHash, it moves to Generation+1
// with Hash NewHash and RotatedAt Now (compare-and-set). If it is at Generation+1 with Hash
// NewHash and Grace > 0 and RotatedAt is within Grace of Now (a concurrent retry of the same
// rotation), nothing is written and the grant succeeds. With Grace 0 (strict rotation) there is
// no such case. If it is past Generation otherwise, the presented token was rotated already: the
// family is revoked, that revocation committed, and ErrRefreshReused returned. The caller has
// checked that the presented token belongs to the family at Generation; any other state is
// ErrNotFound.
type Rotation struct {
	FamilyID   string
	Generation int64
	OldHash    string
	NewHash    string
	Now        time.Time
	Grace      time.Duration
}

// TokenStore keeps refresh-token families and the access tokens revoked one by one.
type TokenStore interface {
	IssueTokens(ctx context.Context, in Issue) error
	// Family returns a family by id whatever its state (rotated, revoked); ErrNotFound when
	// unknown or expired.
	Family(ctx context.Context, familyID string) (*RefreshToken, error)
	// LegacyRefreshToken returns the family whose generation-0 token hashes to hash: refresh
	// tokens issued before families were stored (they do not name their family). ErrNotFound
	// when unknown or expired; a store that never held such tokens always answers ErrNotFound.
	LegacyRefreshToken(ctx context.Context, hash string) (*RefreshToken, error)
	// RevokeAccessToken records one access token revoked until it expires (idempotent).
	RevokeAccessToken(ctx context.Context, idHash string, expiresAt time.Time) error
	// AccessTokenRevoked tells whether RevokeAccessToken recorded idHash (and it has not expired).
	AccessTokenRevoked(ctx context.Context, idHash string) (bool, error)
	// RevokeFamily revokes a family: its refresh token and every access token issued with it
	// (unknown ids are not an error).
	RevokeFamily(ctx context.Context, familyID string) error
	// RevokeGrants revokes every family of a subject, for one client when clientID is not empty,
	// or every family of a client when subject is empty (access-only families included); it
	// returns how many live families with a refresh token it revoked. Both empty is an error.
	// In the same write it closes the grants so named that are not redeemed yet: an approved
	// device authorization is denied, an unexchanged authorization code consumed.
	RevokeGrants(ctx context.Context, subject, clientID string) (int, error)
	// ListRefreshTokens lists the live (not revoked, not expired) families that have a refresh
	// token, oldest first, filtered by subject and/or client when not empty.
	ListRefreshTokens(ctx context.Context, subject, clientID string) ([]*RefreshToken, error)
}

// Session is a member's single sign-on session at the bridge.
type Session struct {
	ID        string
	Subject   string
	AuthTime  time.Time
	AMR       []string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	Ended     bool
	// Clients are the client ids this session signed into, in first-sign-in order.
	Clients []string
}

// SessionStore keeps SSO sessions and the clients each one signed into.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a live session; ErrNotFound when unknown, expired or ended.
	Session(ctx context.Context, id string) (*Session, error)
	// AddSessionClient records that the session signed into a client (idempotent) and
	// updates LastSeen.
	AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error
	// EndSession ends one session (idempotent), and revokes its families without a refresh
	// token (granted without offline_access: they last as long as the session, OIDC Core 11)
	// in the same transaction; EndSubjectSessions does the same for each session it ends.
	EndSession(ctx context.Context, id string) error
	// Sessions lists live sessions, filtered by subject when not empty.
	Sessions(ctx context.Context, subject string) ([]*Session, error)
	// EndSubjectSessions ends every live session of a subject and returns them.
	EndSubjectSessions(ctx context.Context, subject string) ([]*Session, error)
}

// StoredKey is a signing key. The private key is encrypted by the caller before it is stored.
type StoredKey struct {
	ID         string
	Algorithm  string // RS256, ES256, EdDSA
	PublicJWK  []byte // JSON
	PrivateEnc []byte // encrypted PKCS#8
	CreatedAt  time.Time
	// SignUntil is when the key stops signing (rotation); it stays published until ExpiresAt.
	SignUntil time.Time
	ExpiresAt time.Time
}

// KeyStore keeps signing keys.
type KeyStore interface {
	// SigningKeys returns every key not yet past ExpiresAt, oldest first.
	SigningKeys(ctx context.Context) ([]*StoredKey, error)
	AddSigningKey(ctx context.Context, k *StoredKey) error
	// AddSigningKeySuccessor stores k, the key of its algorithm that signs from k.CreatedAt,
	// unless a stored key of that algorithm already signs past that moment: then another
	// replica made this key (the first one, or the same successor) first, and the answer is
	// ErrConflict. Atomic across processes, so replicas starting together on an empty store,
	// or racing one rotation, make one key per algorithm.
	AddSigningKeySuccessor(ctx context.Context, k *StoredKey) error
	// ExtendSigningKey sets the key's ExpiresAt to expiresAt when that is later (it never
	// moves it earlier: expires_at = max(expires_at, expiresAt)), so that a key stays
	// published, and Purge keeps it, while tokens it signed under a raised lifetime are
	// valid. A key already past its ExpiresAt, or withdrawn (RetireSigningKey) even while the
	// caller's clock is behind the store's, is not brought back: ErrNotFound, as for an unknown
	// id.
	ExtendSigningKey(ctx context.Context, id string, expiresAt time.Time) error
	// RetireSigningKey withdraws the key id at once (its private key may be out): by the
	// store's clock, sign_until = min(sign_until, now) and expires_at = that sign_until, so it
	// signs no more, SigningKeys no longer returns it, Purge deletes it, and nothing extends it
	// again (a key whose ExpiresAt is not after its SignUntil is withdrawn: ExtendSigningKey
	// answers ErrNotFound for it). successor, when not nil, is stored in the same transaction
	// (the key that signs for the algorithm from now). ErrNotFound when the key is unknown,
	// expired or withdrawn already, ErrConflict when the successor's id exists; nothing is
	// changed then.
	RetireSigningKey(ctx context.Context, id string, successor *StoredKey) error
}

// Withdrawn tells whether the key was withdrawn (RetireSigningKey): it is published no longer
// than it signs, which a key retired by rotation never is.
func (k *StoredKey) Withdrawn() bool { return !k.ExpiresAt.After(k.SignUntil) }

// StoredClient is a dynamically registered client: Config is its JSON record (client_record.go).
type StoredClient struct {
	ID        string
	Config    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientStore keeps dynamic clients (static ones come from the config file).
type ClientStore interface {
	Client(ctx context.Context, id string) (*StoredClient, error)
	Clients(ctx context.Context) ([]*StoredClient, error)
	// CreateClient returns ErrConflict when the id exists.
	CreateClient(ctx context.Context, c *StoredClient) error
	// UpdateClient returns ErrNotFound when the id does not exist.
	UpdateClient(ctx context.Context, c *StoredClient) error
	DeleteClient(ctx context.Context, id string) error
	// ClientsVersion changes whenever a client is created, updated or deleted, so that
	// readers can cache clients and reload only on change (also across processes).
	ClientsVersion(ctx context.Context) (int64, error)
}

// SecretStore keeps installation secrets that are generated once and must never change
// (the subject HMAC key, cookie keys, the token encryption key).
type SecretStore interface {
	// EnsureSecret returns the secret named name, storing value first if there is none yet.
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	// ReplaceSecret sets the secret to value when it is old (compare-and-set: sealing a
	// plaintext secret in place); ErrNotFound when it is absent or not old.
	ReplaceSecret(ctx context.Context, name string, old, value []byte) error
}

// CodeRequestReader is a store that finds a code's request by the request's id instead of by
// the code's hash: a code is its request's id sealed by the provider's crypto
// (op.BuildAuthRequestCode), so the provider opens it and compares the hash the store holds
// with the presented code's, in constant time. Such a store needs no index of code hashes, nor
// their uniqueness across requests: a code opens to one request. It then consumes a code by
// its request (Issue.ConsumeCodeRequest). Optional: without it the provider finds codes by hash
// (AuthRequestByCode), and read the session apart.
type CodeRequestReader interface {
	// CodeRequest returns the request id with its code (CodeHash, consumed or not), and
	// whether its session (SessionID) is live: found by Session, neither ended nor expired;
	// false when the request has no session. ErrNotFound when the
	// request is unknown, has no code, or its code has expired.
	CodeRequest(ctx context.Context, id string) (*AuthRequest, bool, error)
}

// Store is all the persistence the provider needs.
type Store interface {
	AuthRequestStore
	TokenStore
	SessionStore
	KeyStore
	ClientStore
	SecretStore
	// Purge deletes rows expired before now (auth requests, codes, token families, revoked
	// access tokens, sessions, keys), in bounded batches, and returns how many it deleted.
	Purge(ctx context.Context, now time.Time) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// Resources are the resources (RFC 8707) the family's grant is bound to: its Audience when
// the request that started the grant named resources, nil when it is the client's id (no
// resource named, or a family from before session 19): the client's whole set of audiences.
// A resource is an absolute URI and a client id has no colon, so the two never meet.
func (t *RefreshToken) Resources() []string {
	if len(t.Audience) == 0 || (len(t.Audience) == 1 && t.Audience[0] == t.ClientID) {
		return nil
	}
	return t.Audience
}
