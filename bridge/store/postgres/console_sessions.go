package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// The admin console's sessions (store.ConsoleSessionStore). Every change is a compare-and-set
// on a live row (ended_at = 0, expires_at > now); Purge deletes rows past expires_at.

// CreateConsoleSession stores a new console session; sso.ErrConflict when its id hash exists.
func (s *Store) CreateConsoleSession(ctx context.Context, c *store.ConsoleSession) error {
	if c.IDHash == "" || c.Subject == "" {
		return errors.New("postgres: create console session: empty id or subject")
	}
	created := orNow(c.CreatedAt, s.clock())
	args := []any{c.IDHash, c.Subject, c.Login, c.CSRF, ts(c.AuthTime), encList(c.AMR), c.MFA, ts(created),
		ts(orNow(c.SeenAt, created)), ts(orNow(c.CheckedAt, created)), ts(c.ExpiresAt), c.BridgeSession}
	if c.BridgeSession == "" {
		_, err := s.pool.Exec(ctx, insertConsoleSession+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, args...)
		return wrap("create console session", err)
	}
	// A compare-and-set on the bridge session, which it holds FOR SHARE until the insert
	// commits: an end of that session waits for it, and its next statement (endConsoleOfBridge,
	// READ COMMITTED: a new snapshot) then sees (and ends) the new row; an end committed first
	// leaves no live session to insert against.
	return wrap("create console session", execOne(ctx, s.pool, `WITH live AS (SELECT id FROM sessions
		WHERE id = $12 AND NOT ended AND expires_at > $8 FOR SHARE)
		`+insertConsoleSession+` SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint, $6::text, $7::boolean, $8::bigint,
		$9::bigint, $10::bigint, $11::bigint, $12::text FROM live`, args...))
}

const insertConsoleSession = `INSERT INTO console_sessions (id_hash, subject, login, csrf, auth_time, amr, mfa, created_at,
		seen_at, checked_at, expires_at, bridge_session)`

// ConsoleSession returns a console session by id hash, live or ended.
func (s *Store) ConsoleSession(ctx context.Context, idHash string) (*store.ConsoleSession, error) {
	c := &store.ConsoleSession{IDHash: idHash}
	var (
		amr                                              string
		authTime, created, seen, checked, expires, ended int64
	)
	err := s.pool.QueryRow(ctx, `SELECT subject, login, csrf, auth_time, amr, mfa, created_at, seen_at, checked_at,
		expires_at, ended_at, end_reason, bridge_session FROM console_sessions WHERE id_hash = $1`, idHash).Scan(
		&c.Subject, &c.Login, &c.CSRF, &authTime, &amr, &c.MFA, &created, &seen, &checked, &expires, &ended, &c.EndReason,
		&c.BridgeSession)
	if err != nil {
		return nil, wrap("console session", err)
	}
	if c.AMR, err = decList(amr); err != nil {
		return nil, wrap("console session", err)
	}
	c.AuthTime, c.CreatedAt, c.SeenAt, c.CheckedAt = tm(authTime), tm(created), tm(seen), tm(checked)
	c.ExpiresAt, c.EndedAt = tm(expires), tm(ended)
	return c, nil
}

// TouchConsoleSession moves a live session's seen and checked times forward.
func (s *Store) TouchConsoleSession(ctx context.Context, idHash string, seen, checked time.Time) error {
	return wrap("touch console session", execOne(ctx, s.pool, `UPDATE console_sessions
		SET seen_at = GREATEST(seen_at, $1), checked_at = GREATEST(checked_at, $2)
		WHERE id_hash = $3 AND ended_at = 0 AND expires_at > $1`, ts(seen), ts(checked), idHash))
}

// EndConsoleSession ends one live console session; the first end wins.
func (s *Store) EndConsoleSession(ctx context.Context, idHash string, at time.Time, reason string) error {
	return wrap("end console session", execOne(ctx, s.pool, `UPDATE console_sessions SET ended_at = $1, end_reason = $2
		WHERE id_hash = $3 AND ended_at = 0 AND expires_at > $1`, ts(orNow(at, s.clock())), reason, idHash))
}

// EndConsoleSessions ends every live console session of subject.
func (s *Store) EndConsoleSessions(ctx context.Context, subject string, at time.Time, reason string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE console_sessions SET ended_at = $1, end_reason = $2
		WHERE subject = $3 AND ended_at = 0 AND expires_at > $1`, ts(orNow(at, s.clock())), reason, subject)
	if err != nil {
		return 0, wrap("end console sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// endConsoleOfBridge ends, in tx at now (the store's clock, as ts writes it), the live console
// sessions of the bridge sessions ids (ended in tx), and writes one console.session_ended audit
// row for each (store.EventConsoleSessionEnded), in one statement. Every statement that ends a
// bridge session calls it in its transaction. Before session 14 a trigger did this with the
// database's clock, without the audit rows, and ended already-expired console sessions too.
func endConsoleOfBridge(ctx context.Context, tx pgx.Tx, now int64, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `WITH c AS (UPDATE console_sessions SET ended_at = $2, end_reason = $3
		WHERE bridge_session = ANY($1) AND ended_at = 0 AND expires_at > $2 RETURNING subject, login, created_at, id_hash)
	INSERT INTO audit_log (time, event, subject, login, client_id, ip, detail)
		SELECT $2, $4, subject, login, $5, '', $3 FROM c ORDER BY created_at, id_hash`,
		ids, now, store.EndBridgeSessionEnded, store.EventConsoleSessionEnded, store.ConsoleClientID)
	if err != nil {
		return fmt.Errorf("end the console sessions of ended sessions: %w", err)
	}
	return nil
}
