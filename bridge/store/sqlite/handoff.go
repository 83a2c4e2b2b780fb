package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// UseHandoffToken records an AMS token hash as used; a second use before it expires is
// sso.ErrConflict. An expired row is replaced in place; Purge deletes the others.
func (s *Store) UseHandoffToken(ctx context.Context, hash string, expires time.Time) error {
	now := ts(s.clock())
	return wrap("use hand-off token", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO handoff_tokens (hash, used_at, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (hash) DO UPDATE SET used_at = excluded.used_at, expires_at = excluded.expires_at
			WHERE handoff_tokens.expires_at <= ?`, hash, now, ts(expires), now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sso.ErrConflict
		}
		return nil
	}))
}

// ShortenHandoffToken brings the guard's expiry forward to until (never later).
func (s *Store) ShortenHandoffToken(ctx context.Context, hash string, until time.Time) error {
	_, err := s.wexec(ctx, `UPDATE handoff_tokens SET expires_at = ? WHERE hash = ? AND expires_at > ?`,
		ts(until), hash, ts(until))
	return wrap("shorten hand-off token", err)
}
