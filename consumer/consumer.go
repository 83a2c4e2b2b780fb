package consumer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Config configures a Consumer.
type Config struct {
	// Issuer is the bridge's issuer URL; ClientID is this app's client id.
	Issuer   string
	ClientID string
	// DB is the app's own database; Postgres switches placeholders to $1, $2...
	DB       *sql.DB
	Postgres bool
	// WebhookSecret ("whsec_<base64>") enables WebhookHandler; SCIMToken enables SCIMHandler.
	WebhookSecret string
	SCIMToken     string
	Logger        *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Consumer verifies the bridge's tokens and keeps the shadow users and local sessions.
type Consumer struct {
	cfg      Config
	db       *sql.DB
	log      *slog.Logger
	now      func() time.Time
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	keys     oidc.KeySet
	inserts  atomic.Int64 // ids recorded, to prune sso_seen now and then
}

// seenRetention is how long processed ids are remembered: far beyond the 5-minute windows in
// which a webhook signature or a logout token's iat is accepted.
const seenRetention = 7 * 24 * time.Hour

// User is a shadow user.
type User struct {
	Subject    string
	Login      string
	Email      string
	Name       string
	GivenName  string
	FamilyName string
	Picture    string
	Active     bool
	Roles      []string
	// Membership is the membership fields as the bridge sent them (JSON object), if any.
	Membership json.RawMessage
	UpdatedAt  time.Time
	// PushedAt is the time of the bridge event that carried this state (zero for sign-ins); a
	// push older than the last one applied is ignored (out-of-order delivery).
	PushedAt time.Time
}

// Session is a local session of the app.
type Session struct {
	ID        string
	Subject   string
	SID       string // the bridge's session id
	CreatedAt time.Time
	Ended     bool
}

// ErrNotFound is returned for unknown or ended sessions and unknown users.
var ErrNotFound = errors.New("consumer: not found")

// New discovers the bridge (go-oidc) and returns a Consumer. ctx may carry an HTTP client
// (oidc.ClientContext) that is used for discovery and for fetching keys.
func New(ctx context.Context, cfg Config) (*Consumer, error) {
	if cfg.DB == nil || cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("consumer: Issuer, ClientID and DB are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("consumer: discovery: %w", err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("consumer: discovery has no jwks_uri")
	}
	c := &Consumer{cfg: cfg, db: cfg.DB, log: cfg.Logger, now: cfg.Now, provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: []string{"RS256", "ES256", "EdDSA"}, Now: cfg.Now}),
		keys:     oidc.NewRemoteKeySet(ctx, meta.JWKS)}
	return c, nil
}

// Provider is the discovered bridge (endpoints for x/oauth2).
func (c *Consumer) Provider() *oidc.Provider { return c.provider }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS sso_users (
	subject       TEXT PRIMARY KEY,
	login         TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	name          TEXT NOT NULL DEFAULT '',
	given_name    TEXT NOT NULL DEFAULT '',
	family_name   TEXT NOT NULL DEFAULT '',
	picture       TEXT NOT NULL DEFAULT '',
	active        INTEGER NOT NULL DEFAULT 1,
	membership    TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	updated_at    BIGINT NOT NULL,
	pushed_at     BIGINT NOT NULL DEFAULT 0
)`,
	`CREATE TABLE IF NOT EXISTS sso_user_roles (
	subject TEXT NOT NULL REFERENCES sso_users (subject) ON DELETE CASCADE,
	role    TEXT NOT NULL,
	PRIMARY KEY (subject, role)
)`,
	`CREATE TABLE IF NOT EXISTS sso_sessions (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL REFERENCES sso_users (subject),
	sid        TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	ended      INTEGER NOT NULL DEFAULT 0
)`,
	`CREATE INDEX IF NOT EXISTS sso_sessions_subject ON sso_sessions (subject)`,
	`CREATE INDEX IF NOT EXISTS sso_sessions_sid ON sso_sessions (sid)`,
	`CREATE TABLE IF NOT EXISTS sso_seen (
	id      TEXT PRIMARY KEY,
	seen_at BIGINT NOT NULL
)`,
}

// Migrate creates the tables if they do not exist.
func (c *Consumer) Migrate(ctx context.Context) error {
	for _, q := range schema {
		if _, err := c.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("consumer: migrate: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders for PostgreSQL.
func (c *Consumer) q(query string) string {
	if !c.cfg.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("consumer: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// unusablePassword is a value no password hash check accepts ("!" is not a hash format).
func unusablePassword() string { return "!sso-only!" + randomHex(32) }

// UpsertUser inserts or updates a shadow user and replaces its roles, in one transaction. A
// change older than the stored one (an out-of-order push) is ignored. An inactive user's
// local sessions are ended.
func (c *Consumer) UpsertUser(ctx context.Context, u User) error {
	if u.Subject == "" {
		return errors.New("consumer: upsert user: empty subject")
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = c.now()
	}
	return c.writeUser(ctx, "upsert user", u, func(tx *sql.Tx) (bool, error) { return c.updateUser(ctx, tx, u) })
}

// updateUser is UpsertUser's change of a stored user, in writeUser's transaction.
func (c *Consumer) updateUser(ctx context.Context, tx *sql.Tx, u User) (bool, error) {
	// The row is ours (insertUser): read it fresh and apply the change unless it is older.
	var pushed int64
	if err := tx.QueryRowContext(ctx, c.q(`SELECT pushed_at FROM sso_users WHERE subject = ?`+c.forUpdate()), u.Subject).Scan(&pushed); err != nil {
		return false, err
	}
	if !u.PushedAt.IsZero() && pushed > u.PushedAt.UnixNano() {
		return false, nil
	}
	_, err := tx.ExecContext(ctx, c.q(`UPDATE sso_users SET login = ?, email = ?, name = ?, given_name = ?, family_name = ?,
		picture = ?, active = ?, membership = ?, updated_at = ?, pushed_at = CASE WHEN ? > pushed_at THEN ? ELSE pushed_at END
		WHERE subject = ?`),
		u.Login, u.Email, u.Name, u.GivenName, u.FamilyName, u.Picture, b2i(u.Active), string(u.Membership),
		u.UpdatedAt.UnixNano(), unixNano(u.PushedAt), unixNano(u.PushedAt), u.Subject)
	return err == nil, err
}

// writeUser writes u in one transaction: inserted when the subject is new, else changed by
// update (false: nothing to write, the transaction ends there); then u's roles (when not nil)
// replace the stored ones, and an inactive user's sessions end. The transaction's first
// statement is the insert, a write, so that SQLite takes its write lock (waiting for it) before
// anything is read: a read first would pin a snapshot that a concurrent push or sign-in can make
// stale, and the write after it would fail with "database is locked" at once; and update reads
// and writes a row no other writer changes meanwhile (on PostgreSQL it locks it).
func (c *Consumer) writeUser(ctx context.Context, what string, u User, update func(tx *sql.Tx) (bool, error)) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("consumer: %s: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := c.writeUserIn(ctx, tx, what, u, update); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("consumer: %s: %w", what, err)
	}
	return nil
}

// writeUserIn is writeUser's work in the transaction tx, which the caller commits.
func (c *Consumer) writeUserIn(ctx context.Context, tx *sql.Tx, what string, u User, update func(tx *sql.Tx) (bool, error)) error {
	res, err := tx.ExecContext(ctx, c.q(`INSERT INTO sso_users (subject, login, email, name, given_name, family_name, picture,
		active, membership, password_hash, updated_at, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (subject) DO NOTHING`),
		u.Subject, u.Login, u.Email, u.Name, u.GivenName, u.FamilyName, u.Picture, b2i(u.Active), string(u.Membership),
		unusablePassword(), u.UpdatedAt.UnixNano(), unixNano(u.PushedAt))
	if err != nil {
		return fmt.Errorf("consumer: %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("consumer: %s: %w", what, err)
	} else if n == 0 {
		wrote, err := update(tx)
		if err != nil {
			if errors.Is(err, ErrDeactivated) {
				return err
			}
			return fmt.Errorf("consumer: %s: %w", what, err)
		}
		if !wrote {
			return nil
		}
	}
	if u.Roles != nil {
		if _, err := tx.ExecContext(ctx, c.q(`DELETE FROM sso_user_roles WHERE subject = ?`), u.Subject); err != nil {
			return fmt.Errorf("consumer: %s roles: %w", what, err)
		}
		for _, r := range slices.Compact(slices.Sorted(slices.Values(u.Roles))) {
			if _, err := tx.ExecContext(ctx, c.q(`INSERT INTO sso_user_roles (subject, role) VALUES (?, ?)`), u.Subject, r); err != nil {
				return fmt.Errorf("consumer: %s roles: %w", what, err)
			}
		}
	}
	if !u.Active {
		if _, err := tx.ExecContext(ctx, c.q(`UPDATE sso_sessions SET ended = 1 WHERE subject = ? AND ended = 0`), u.Subject); err != nil {
			return fmt.Errorf("consumer: end sessions: %w", err)
		}
	}
	return nil
}

// changeUser applies change to the stored user subject and writes the result (as UpsertUser
// does) in one transaction, so that a change made meanwhile (another PATCH, a push, a sign-in)
// is neither read stale nor overwritten: its first statement is a write that takes SQLite's
// write lock, or the row's lock on PostgreSQL, before the user is read. It returns the user as
// written; ErrNotFound when there is none; change's error as it is.
func (c *Consumer) changeUser(ctx context.Context, subject string, change func(*User) (User, error)) (*User, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("consumer: change user: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	res, err := tx.ExecContext(ctx, c.q(`UPDATE sso_users SET updated_at = updated_at WHERE subject = ?`), subject)
	if err != nil {
		return nil, fmt.Errorf("consumer: change user: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("consumer: change user: %w", err)
	} else if n == 0 {
		return nil, ErrNotFound
	}
	l, err := c.users(ctx, tx, subject)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, ErrNotFound
	}
	u, err := change(&l[0])
	if err != nil {
		return nil, err
	}
	u.Subject, u.UpdatedAt = subject, c.now()
	if err := c.writeUserIn(ctx, tx, "change user", u, func(tx *sql.Tx) (bool, error) { return c.updateUser(ctx, tx, u) }); err != nil {
		return nil, err
	}
	if l, err = c.users(ctx, tx, subject); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("consumer: change user: %w", err)
	}
	return &l[0], nil
}

// forUpdate locks the row a read in writeUser's update reads, on PostgreSQL (SQLite's write
// lock, taken by the insert before it, already keeps other writers out).
func (c *Consumer) forUpdate() string {
	if c.cfg.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// signInUser writes the member of a verified ID token: a new subject is inserted active; a known
// one keeps what only pushes carry (the membership object; the names and login when the token
// has none, without the profile scope; its roles when the token has none) and its active flag:
// a sign-in never reactivates a member the bridge deactivated (ErrDeactivated). One
// transaction, so a push at the same moment is either before it or after it, never lost.
func (c *Consumer) signInUser(ctx context.Context, u User) error {
	return c.writeUser(ctx, "sign in user", u, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, c.q(`UPDATE sso_users SET
			login = CASE WHEN ? = '' THEN login ELSE ? END, email = CASE WHEN ? = '' THEN email ELSE ? END,
			name = CASE WHEN ? = '' THEN name ELSE ? END, given_name = CASE WHEN ? = '' THEN given_name ELSE ? END,
			family_name = CASE WHEN ? = '' THEN family_name ELSE ? END, picture = CASE WHEN ? = '' THEN picture ELSE ? END,
			updated_at = ? WHERE subject = ? AND active = 1`),
			u.Login, u.Login, u.Login, u.Email, u.Login, u.Name, u.Login, u.GivenName, u.Login, u.FamilyName, u.Login, u.Picture,
			u.UpdatedAt.UnixNano(), u.Subject)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			return false, ErrDeactivated
		}
		return true, nil
	})
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// User returns one shadow user with roles.
func (c *Consumer) User(ctx context.Context, subject string) (*User, error) {
	l, err := c.users(ctx, c.db, subject)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, ErrNotFound
	}
	return &l[0], nil
}

// Users lists the shadow users with their roles, by login.
func (c *Consumer) Users(ctx context.Context) ([]User, error) { return c.users(ctx, c.db, "") }

// querier is the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (c *Consumer) users(ctx context.Context, db querier, subject string) ([]User, error) {
	q, args := `SELECT subject, login, email, name, given_name, family_name, picture, active, membership, updated_at FROM sso_users`, []any{}
	if subject != "" {
		q, args = q+` WHERE subject = ?`, append(args, subject)
	}
	rows, err := db.QueryContext(ctx, c.q(q+` ORDER BY login, subject`), args...)
	if err != nil {
		return nil, fmt.Errorf("consumer: users: %w", err)
	}
	var out []User
	for rows.Next() {
		var (
			u       User
			active  int
			m       string
			updated int64
		)
		if err := rows.Scan(&u.Subject, &u.Login, &u.Email, &u.Name, &u.GivenName, &u.FamilyName, &u.Picture, &active, &m, &updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("consumer: users: %w", err)
		}
		u.Active, u.UpdatedAt = active != 0, time.Unix(0, updated)
		if m != "" {
			u.Membership = json.RawMessage(m)
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consumer: users: %w", err)
	}
	for i := range out {
		roles, err := c.roles(ctx, db, out[i].Subject)
		if err != nil {
			return nil, err
		}
		out[i].Roles = roles
	}
	return out, nil
}

func (c *Consumer) roles(ctx context.Context, db querier, subject string) ([]string, error) {
	rows, err := db.QueryContext(ctx, c.q(`SELECT role FROM sso_user_roles WHERE subject = ? ORDER BY role`), subject)
	if err != nil {
		return nil, fmt.Errorf("consumer: roles: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("consumer: roles: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// idClaims are the ID token claims the shadow user is built from.
type idClaims struct {
	SID        string   `json:"sid"`
	Login      string   `json:"preferred_username"`
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Picture    string   `json:"picture"`
	Roles      []string `json:"roles"`
	// Events is set only in logout tokens: its presence refuses the token as an ID token.
	Events map[string]any `json:"events"`
}

// ErrDeactivated is returned by SignIn for a member the bridge has deactivated at this app.
var ErrDeactivated = errors.New("consumer: the member is deactivated at this app")

// idTokenTyp reports whether a JWT's header typ can be an ID token's: JWT or absent. The
// bridge's other JWTs say what they are (RFC 8725 3.11): logout tokens logout+jwt
// (Back-Channel Logout 2.4), JWT access tokens at+jwt (RFC 9068 2.1); either carries the
// member's sub, the bridge's iss and signature and may carry this app as aud.
func idTokenTyp(raw string) bool {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Typ *string `json:"typ"`
	}
	if json.Unmarshal(b, &h) != nil {
		return false
	}
	return h.Typ == nil || strings.EqualFold(*h.Typ, "JWT")
}

// SignIn verifies an ID token, upserts its member (active, roles when the token has them) and
// opens a local session. The nonce, if the app sent one, is the caller's to check (tok.Nonce).
func (c *Consumer) SignIn(ctx context.Context, rawIDToken string) (*Session, *oidc.IDToken, error) {
	if !idTokenTyp(rawIDToken) {
		return nil, nil, errors.New("consumer: id token: typ is not JWT (a logout token or an access token is not an ID token)")
	}
	tok, err := c.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: id token: %w", err)
	}
	var cl idClaims
	if err := tok.Claims(&cl); err != nil {
		return nil, nil, fmt.Errorf("consumer: id token claims: %w", err)
	}
	if cl.Events != nil {
		return nil, nil, errors.New("consumer: id token: a logout token (events claim) is not an ID token")
	}
	u := User{Subject: tok.Subject, Login: cl.Login, Email: cl.Email, Name: cl.Name, GivenName: cl.GivenName,
		FamilyName: cl.FamilyName, Picture: cl.Picture, Active: true, Roles: cl.Roles, UpdatedAt: c.now()}
	// A deactivation pushed by the bridge stands until the bridge pushes the member active
	// again (a sign-in never reactivates); the ID token has no membership object, and without
	// the profile scope no names: what pushes told us is kept, in the same transaction as the
	// write (signInUser), so that a push arriving meanwhile is not overwritten.
	if err := c.signInUser(ctx, u); err != nil {
		return nil, nil, err
	}
	s := &Session{ID: randomHex(32), Subject: tok.Subject, SID: cl.SID, CreatedAt: c.now()}
	if _, err := c.db.ExecContext(ctx, c.q(`INSERT INTO sso_sessions (id, subject, sid, created_at) VALUES (?, ?, ?, ?)`),
		s.ID, s.Subject, s.SID, s.CreatedAt.UnixNano()); err != nil {
		return nil, nil, fmt.Errorf("consumer: create session: %w", err)
	}
	c.log.InfoContext(ctx, "consumer: signed in", "subject", s.Subject)
	return s, tok, nil
}

// Session returns a live local session; ErrNotFound when unknown or ended.
func (c *Consumer) Session(ctx context.Context, id string) (*Session, error) {
	var (
		s       Session
		created int64
	)
	err := c.db.QueryRowContext(ctx, c.q(`SELECT id, subject, sid, created_at FROM sso_sessions WHERE id = ? AND ended = 0`), id).
		Scan(&s.ID, &s.Subject, &s.SID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: session: %w", err)
	}
	s.CreatedAt = time.Unix(0, created)
	return &s, nil
}

// EndSession ends one local session (idempotent).
func (c *Consumer) EndSession(ctx context.Context, id string) error {
	_, err := c.db.ExecContext(ctx, c.q(`UPDATE sso_sessions SET ended = 1 WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("consumer: end session: %w", err)
	}
	return nil
}

// endSessions ends the local sessions of a bridge session (sid) and/or member (sub).
func (c *Consumer) endSessions(ctx context.Context, sub, sid string) (int64, error) {
	q, args := `UPDATE sso_sessions SET ended = 1 WHERE ended = 0`, []any{}
	if sid != "" {
		q, args = q+` AND sid = ?`, append(args, sid)
	}
	if sub != "" {
		q, args = q+` AND subject = ?`, append(args, sub)
	}
	res, err := c.db.ExecContext(ctx, c.q(q), args...)
	if err != nil {
		return 0, fmt.Errorf("consumer: end sessions: %w", err)
	}
	return res.RowsAffected()
}

// seen records an id (webhook id, jti) and reports whether it was already there.
func (c *Consumer) seen(ctx context.Context, id string) (bool, error) {
	res, err := c.db.ExecContext(ctx, c.q(`INSERT INTO sso_seen (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		id, c.now().UnixNano())
	if err != nil {
		return false, fmt.Errorf("consumer: seen: %w", err)
	}
	n, err := res.RowsAffected()
	if err == nil && n > 0 && c.inserts.Add(1)%1000 == 1 {
		cutoff := c.now().Add(-seenRetention).UnixNano()
		if _, perr := c.db.ExecContext(ctx, c.q(`DELETE FROM sso_seen WHERE seen_at < ?`), cutoff); perr != nil {
			c.log.WarnContext(ctx, "consumer: prune seen ids", "err", perr)
		}
	}
	return n == 0, err
}
