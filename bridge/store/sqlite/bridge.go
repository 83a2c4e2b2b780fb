package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// ---- subjects ----

// PutSubject inserts the mapping or updates its login and last-seen time. A subject is bound to
// one member key forever: ErrConflict when the subject exists with another member key, or the
// member key exists under another subject.
func (s *Store) PutSubject(ctx context.Context, sub *store.Subject) error {
	if sub == nil || sub.Subject == "" || sub.MemberKey == "" {
		return errors.New("sqlite: put subject: empty subject or member key")
	}
	now := s.clock()
	first := orNow(sub.FirstSeen, now)
	res, err := s.wexecStmt(ctx, s.st.putSubject,
		sub.Subject, sub.MemberKey, sub.Login, ts(first), ts(orNow(sub.LastSeen, now)))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			return fmt.Errorf("sqlite: put subject: subject bound to another member key: %w", sso.ErrConflict)
		}
		return wrap("put subject", err)
	}
	return nil
}

func (s *Store) subjectBy(ctx context.Context, stmt *sql.Stmt, v string) (*store.Subject, error) {
	return readRow(ctx, s, stmt, scanSubject, v)
}

const subjectCols = `subject, member_key, login, first_seen, last_seen`

func scanSubject(row scanner) (*store.Subject, error) {
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

// SubjectByID returns the mapping of subject; ErrNotFound when unknown.
func (s *Store) SubjectByID(ctx context.Context, subject string) (*store.Subject, error) {
	sub, err := s.subjectBy(ctx, s.st.subjectByID, subject)
	if err != nil {
		return nil, wrap("subject by id", err)
	}
	return sub, nil
}

// SubjectByMemberKey returns the mapping of memberKey; ErrNotFound when unknown.
func (s *Store) SubjectByMemberKey(ctx context.Context, memberKey string) (*store.Subject, error) {
	sub, err := s.subjectBy(ctx, s.st.subjectByKey, memberKey)
	if err != nil {
		return nil, wrap("subject by member key", err)
	}
	return sub, nil
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
		return errors.New("sqlite: put consent: empty subject or client")
	}
	_, err := s.wexec(ctx, `INSERT INTO consents (subject, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.Subject, c.ClientID, encList(normScopes(c.Scopes)), ts(orNow(c.GrantedAt, s.clock())))
	return wrap("put consent", err)
}

func scanConsent(row scanner) (*store.Consent, error) {
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
	c, err := readRow(ctx, s, s.st.consent, scanConsent, subject, clientID)
	if err != nil {
		return nil, wrap("consent", err)
	}
	return c, nil
}

// Consents returns every consent of subject ordered by client id.
func (s *Store) Consents(ctx context.Context, subject string) ([]*store.Consent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT subject, client_id, scopes, granted_at FROM consents
		WHERE subject = ? ORDER BY client_id`, subject)
	if err != nil {
		return nil, wrap("consents", err)
	}
	defer rows.Close()
	var out []*store.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, wrap("consents", err)
		}
		out = append(out, c)
	}
	return out, wrap("consents", rows.Err())
}

// DeleteConsent deletes the consent of (subject, client) (idempotent).
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	_, err := s.wexec(ctx, `DELETE FROM consents WHERE subject = ? AND client_id = ?`, subject, clientID)
	return wrap("delete consent", err)
}

// ---- audit log ----

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 10000
	// auditSignIn is the event of most audit rows, left out of the (event, time) index.
	auditSignIn = "login.success"
)

// Audit appends an event and sets its ID (and its Time when zero).
func (s *Store) Audit(ctx context.Context, e *store.AuditEvent) error {
	if e == nil || e.Event == "" {
		return errors.New("sqlite: audit: empty event")
	}
	t := orNow(e.Time, s.clock())
	res, err := s.wexecStmt(ctx, s.st.insertAudit, ts(t), e.Event, e.Subject, e.Login, e.ClientID, e.IP, e.Detail)
	if err != nil {
		return wrap("audit", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap("audit", err)
	}
	e.ID, e.Time = id, t
	return nil
}

// PurgeAudit deletes audit events older than before, in bounded batches.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.wexec(ctx, purgeAuditQuery, ts(before), purgeBatch)
		if err != nil {
			return total, wrap("purge audit", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("purge audit", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// purgeAuditQuery is PurgeAudit's batch: the oldest events, in the order of the time index
// (audit_log_time), so that a batch reads its own rows only. In id order it read every event
// older than before and sorted them, for each batch: a purge of n events read about n^2/2000
// (TestAuditPurgeReadsItsBatch).
const purgeAuditQuery = `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < ? ORDER BY time LIMIT ?)`

// AuditEvents returns the events matching f, newest first, at most f.Limit (default 100, capped
// at 10000).
func (s *Store) AuditEvents(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, error) {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT id, time, event, subject, login, client_id, ip, detail FROM audit_log WHERE 1 = 1`)
	if f.Event != "" {
		q.WriteString(` AND event = ?`)
		args = append(args, f.Event)
		if f.Event != auditSignIn {
			// The (event, time) index leaves out sign-in rows; the same term lets it be used.
			q.WriteString(` AND event <> 'login.success'`)
		}
	}
	if f.Subject != "" {
		q.WriteString(` AND subject = ?`)
		args = append(args, f.Subject)
	}
	if f.ClientID != "" {
		q.WriteString(` AND client_id = ?`)
		args = append(args, f.ClientID)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND time >= ?`)
		args = append(args, ts(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND time < ?`)
		args = append(args, ts(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	q.WriteString(` ORDER BY time DESC, id DESC LIMIT ?`)
	args = append(args, limit)

	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("audit events", err)
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		var (
			e store.AuditEvent
			t int64
		)
		if err := rows.Scan(&e.ID, &t, &e.Event, &e.Subject, &e.Login, &e.ClientID, &e.IP, &e.Detail); err != nil {
			return nil, wrap("audit events", err)
		}
		e.Time = tm(t)
		out = append(out, &e)
	}
	return out, wrap("audit events", rows.Err())
}
