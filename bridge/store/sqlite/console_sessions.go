package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// The admin console's sessions (store.ConsoleSessionStore). Every change is a compare-and-set
// on a live row (ended_at = 0, expires_at > now); Purge deletes rows past expires_at.

// CreateConsoleSession stores a new console session; sso.ErrConflict when its id hash exists.
func (s *Store) CreateConsoleSession(ctx context.Context, c *store.ConsoleSession) error {
	if c.IDHash == "" || c.Subject == "" {
		return errors.New("sqlite: create console session: empty id or subject")
	}
	created := orNow(c.CreatedAt, s.clock())
	args := []any{c.IDHash, c.Subject, c.Login, c.CSRF, ts(c.AuthTime), encList(c.AMR), b2i(c.MFA), ts(created),
		ts(orNow(c.SeenAt, created)), ts(orNow(c.CheckedAt, created)), ts(c.ExpiresAt), c.BridgeSession}
	if c.BridgeSession == "" {
		_, err := s.wexec(ctx, insertConsoleSession+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return wrap("create console session", err)
	}
	// A compare-and-set on the bridge session: one statement, so no end of it can come
	// between the check and the insert (an end's transaction, endConsoleOfBridge, ends what
	// this inserts).
	res, err := s.wexec(ctx, insertConsoleSession+` SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?12 AND ended = 0 AND expires_at > ?8)`, args...)
	return wrap("create console session", affectedOne(res, err))
}

const insertConsoleSession = `INSERT INTO console_sessions (id_hash, subject, login, csrf, auth_time, amr, mfa, created_at,
		seen_at, checked_at, expires_at, bridge_session)`

// ConsoleSession returns a console session by id hash, live or ended.
func (s *Store) ConsoleSession(ctx context.Context, idHash string) (*store.ConsoleSession, error) {
	c := &store.ConsoleSession{IDHash: idHash}
	var (
		amr                                              string
		mfa                                              int
		authTime, created, seen, checked, expires, ended int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT subject, login, csrf, auth_time, amr, mfa, created_at, seen_at, checked_at,
		expires_at, ended_at, end_reason, bridge_session FROM console_sessions WHERE id_hash = ?`, idHash).Scan(
		&c.Subject, &c.Login, &c.CSRF, &authTime, &amr, &mfa, &created, &seen, &checked, &expires, &ended, &c.EndReason,
		&c.BridgeSession)
	if err != nil {
		return nil, wrap("console session", err)
	}
	if c.AMR, err = decList(amr); err != nil {
		return nil, wrap("console session", err)
	}
	c.MFA = mfa != 0
	c.AuthTime, c.CreatedAt, c.SeenAt, c.CheckedAt = tm(authTime), tm(created), tm(seen), tm(checked)
	c.ExpiresAt, c.EndedAt = tm(expires), tm(ended)
	return c, nil
}

// TouchConsoleSession moves a live session's seen and checked times forward.
func (s *Store) TouchConsoleSession(ctx context.Context, idHash string, seen, checked time.Time) error {
	res, err := s.wexec(ctx, `UPDATE console_sessions SET seen_at = max(seen_at, ?1), checked_at = max(checked_at, ?2)
		WHERE id_hash = ?3 AND ended_at = 0 AND expires_at > ?1`, ts(seen), ts(checked), idHash)
	return wrap("touch console session", affectedOne(res, err))
}

// EndConsoleSession ends one live console session; the first end wins.
func (s *Store) EndConsoleSession(ctx context.Context, idHash string, at time.Time, reason string) error {
	res, err := s.wexec(ctx, `UPDATE console_sessions SET ended_at = ?1, end_reason = ?2
		WHERE id_hash = ?3 AND ended_at = 0 AND expires_at > ?1`, ts(orNow(at, s.clock())), reason, idHash)
	return wrap("end console session", affectedOne(res, err))
}

// endConsoleOfBridge ends, in tx at now (the store's clock), the live console sessions of the
// bridge sessions ids (ended in tx), and writes one console.session_ended audit row for each
// (store.EventConsoleSessionEnded). Every statement that ends a bridge session calls it in its
// transaction. Before session 14 a trigger did this with the database's clock, without the
// audit rows, and ended already-expired console sessions too.
func endConsoleOfBridge(ctx context.Context, tx *sql.Tx, now time.Time, ids ...string) error {
	at := ts(now)
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
			SELECT ?1, ?2, subject, login, ?3, '', ?4 FROM console_sessions
			WHERE bridge_session = ?5 AND ended_at = 0 AND expires_at > ?1 ORDER BY created_at, id_hash`,
			at, store.EventConsoleSessionEnded, store.ConsoleClientID, store.EndBridgeSessionEnded, id); err != nil {
			return fmt.Errorf("audit the console sessions of an ended session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE console_sessions SET ended_at = ?1, end_reason = ?2
			WHERE bridge_session = ?3 AND ended_at = 0 AND expires_at > ?1`, at, store.EndBridgeSessionEnded, id); err != nil {
			return fmt.Errorf("end the console sessions of an ended session: %w", err)
		}
	}
	return nil
}

// sessionIDs are the ids of l.
func sessionIDs(l []*sso.Session) []string {
	ids := make([]string, 0, len(l))
	for _, ss := range l {
		ids = append(ids, ss.ID)
	}
	return ids
}

// EndConsoleSessions ends every live console session of subject.
func (s *Store) EndConsoleSessions(ctx context.Context, subject string, at time.Time, reason string) (int, error) {
	res, err := s.wexec(ctx, `UPDATE console_sessions SET ended_at = ?1, end_reason = ?2
		WHERE subject = ?3 AND ended_at = 0 AND expires_at > ?1`, ts(orNow(at, s.clock())), reason, subject)
	if err != nil {
		return 0, wrap("end console sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("end console sessions", err)
	}
	return int(n), nil
}
