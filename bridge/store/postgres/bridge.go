package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ---- subjects ----

const subjectCols = `subject, member_key, login, first_seen, last_seen`

func scanSubject(row pgx.Row) (*store.Subject, error) {
	var (
		sub         store.Subject
		first, last int64
	)
	if err := row.Scan(&sub.Subject, &sub.MemberKey, &sub.Login, &first, &last); err != nil {
		return nil, err
	}
	sub.FirstSeen, sub.LastSeen = tm(first), tm(last)
	return &sub, nil
}

// PutSubject inserts the mapping or updates its login and last-seen time. A subject is bound to
// one member key forever: ErrConflict when the subject exists with another member key, or the
// member key exists under another subject.
func (s *Store) PutSubject(ctx context.Context, sub *store.Subject) error {
	if sub == nil || sub.Subject == "" || sub.MemberKey == "" {
		return errors.New("postgres: put subject: empty subject or member key")
	}
	now := s.clock()
	err := execOne(ctx, s.pool, `INSERT INTO subjects (subject, member_key, login, first_seen, last_seen)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject) DO UPDATE SET login = excluded.login, last_seen = excluded.last_seen
		WHERE subjects.member_key = excluded.member_key`,
		sub.Subject, sub.MemberKey, sub.Login, ts(orNow(sub.FirstSeen, now)), ts(orNow(sub.LastSeen, now)))
	if err != nil {
		if isNoRows(err) {
			return fmt.Errorf("postgres: put subject: subject bound to another member key: %w", sso.ErrConflict)
		}
		return wrap("put subject", err)
	}
	return nil
}

// SubjectByID returns the mapping of subject; ErrNotFound when unknown.
func (s *Store) SubjectByID(ctx context.Context, subject string) (*store.Subject, error) {
	sub, err := scanSubject(s.pool.QueryRow(ctx, `SELECT `+subjectCols+` FROM subjects WHERE subject = $1`, subject))
	if err != nil {
		return nil, wrap("subject by id", err)
	}
	return sub, nil
}

// SubjectByMemberKey returns the mapping of memberKey; ErrNotFound when unknown.
func (s *Store) SubjectByMemberKey(ctx context.Context, memberKey string) (*store.Subject, error) {
	sub, err := scanSubject(s.pool.QueryRow(ctx, `SELECT `+subjectCols+` FROM subjects WHERE member_key = $1`, memberKey))
	if err != nil {
		return nil, wrap("subject by member key", err)
	}
	return sub, nil
}

// SubjectsByKeyRange lists subjects with after < member_key <= through (no upper bound when
// through is empty), ascending by member key compared bytewise (COLLATE "C"), as Go compares
// strings.
func (s *Store) SubjectsByKeyRange(ctx context.Context, after, through string, limit int) ([]*store.Subject, error) {
	q, args := `SELECT `+subjectCols+` FROM subjects WHERE member_key COLLATE "C" > $1`, []any{after}
	if through != "" {
		args = append(args, through)
		q += fmt.Sprintf(` AND member_key COLLATE "C" <= $%d`, len(args))
	}
	q += ` ORDER BY member_key COLLATE "C"`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("subjects by key range", err)
	}
	out, err := collect(rows, scanSubject)
	return out, wrap("subjects by key range", err)
}

// ---- consents ----

// normScopes returns a sorted, de-duplicated copy of scopes.
func normScopes(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// PutConsent replaces the consent of (subject, client). Scopes are stored sorted and
// de-duplicated.
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	if c == nil || c.Subject == "" || c.ClientID == "" {
		return errors.New("postgres: put consent: empty subject or client")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO consents (subject, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, encList(normScopes(c.Scopes)), ts(orNow(c.GrantedAt, s.clock())))
	return wrap("put consent", err)
}

func scanConsent(row pgx.Row) (*store.Consent, error) {
	var (
		c       store.Consent
		scopes  string
		granted int64
	)
	if err := row.Scan(&c.Subject, &c.ClientID, &scopes, &granted); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = decList(scopes); err != nil {
		return nil, err
	}
	c.GrantedAt = tm(granted)
	return &c, nil
}

// Consent returns the consent of (subject, client); ErrNotFound when none.
func (s *Store) Consent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	c, err := scanConsent(s.pool.QueryRow(ctx, `SELECT subject, client_id, scopes, granted_at FROM consents
		WHERE subject = $1 AND client_id = $2`, subject, clientID))
	if err != nil {
		return nil, wrap("consent", err)
	}
	return c, nil
}

// Consents returns every consent of subject ordered by client id.
func (s *Store) Consents(ctx context.Context, subject string) ([]*store.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT subject, client_id, scopes, granted_at FROM consents
		WHERE subject = $1 ORDER BY client_id COLLATE "C"`, subject)
	if err != nil {
		return nil, wrap("consents", err)
	}
	out, err := collect(rows, scanConsent)
	return out, wrap("consents", err)
}

// DeleteConsent deletes the consent of (subject, client) (idempotent).
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM consents WHERE subject = $1 AND client_id = $2`, subject, clientID)
	return wrap("delete consent", err)
}

// ---- audit log ----

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 10000
)

// Audit appends an event and sets its ID (and its Time when zero).
func (s *Store) Audit(ctx context.Context, e *store.AuditEvent) error {
	if e == nil || e.Event == "" {
		return errors.New("postgres: audit: empty event")
	}
	t := orNow(e.Time, s.clock())
	id, err := insertAudit(ctx, s.pool, e, ts(t))
	if err != nil {
		return wrap("audit", err)
	}
	e.ID, e.Time = id, t
	return nil
}

// insertAudit appends e at time at on q (the pool, or CompleteSignIn's transaction) and returns
// its id.
func insertAudit(ctx context.Context, q querier, e *store.AuditEvent, at int64) (id int64, err error) {
	err = q.QueryRow(ctx, `INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, at, e.Event, e.Subject, e.Login, e.ClientID, e.IP, e.Detail).Scan(&id)
	return id, err
}

// AuditEvents returns the events matching f, newest first, at most f.Limit (default 100, capped
// at 10000).
func (s *Store) AuditEvents(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, error) {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT id, time, event, subject, login, client_id, ip, detail FROM audit_log WHERE TRUE`)
	add := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, ` AND %s $%d`, cond, len(args))
	}
	if f.Event != "" {
		add("event =", f.Event)
	}
	if f.Subject != "" {
		add("subject =", f.Subject)
	}
	if f.ClientID != "" {
		add("client_id =", f.ClientID)
	}
	if !f.Since.IsZero() {
		add("time >=", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("time <", ts(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, min(limit, maxAuditLimit))
	fmt.Fprintf(&q, ` ORDER BY time DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("audit events", err)
	}
	out, err := collect(rows, func(row pgx.Row) (*store.AuditEvent, error) {
		var (
			e store.AuditEvent
			t int64
		)
		if err := row.Scan(&e.ID, &t, &e.Event, &e.Subject, &e.Login, &e.ClientID, &e.IP, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = tm(t)
		return &e, nil
	})
	return out, wrap("audit events", err)
}

// PurgeAudit deletes audit events older than before, in bounded batches.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeBatches(ctx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log
		WHERE time < $1 ORDER BY time LIMIT $2)`, ts(before))
	return n, wrap("purge audit", err)
}

// ---- hand-off replay guard ----

// UseHandoffToken records an AMS token hash as used; a second use before it expires is
// sso.ErrConflict. An expired row is replaced in place; Purge deletes the others. Two replicas
// using one token at once: the second INSERT waits for the first to commit, then finds a live
// row and changes nothing.
func (s *Store) UseHandoffToken(ctx context.Context, hash string, expires time.Time) error {
	now := ts(s.clock())
	err := execOne(ctx, s.pool, `INSERT INTO handoff_tokens (hash, used_at, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET used_at = excluded.used_at, expires_at = excluded.expires_at
		WHERE handoff_tokens.expires_at <= $2`, hash, now, ts(expires))
	if isNoRows(err) {
		return fmt.Errorf("postgres: use hand-off token: %w", sso.ErrConflict)
	}
	return wrap("use hand-off token", err)
}

// ShortenHandoffToken brings the guard's expiry forward to until (never later).
func (s *Store) ShortenHandoffToken(ctx context.Context, hash string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE handoff_tokens SET expires_at = $1 WHERE hash = $2 AND expires_at > $1`,
		ts(until), hash)
	return wrap("shorten hand-off token", err)
}
