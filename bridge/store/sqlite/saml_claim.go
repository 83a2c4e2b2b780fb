package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TakeOverSAMLLoginClaim moves a SAML login claim to a new step (store.SAMLStore): the claim's
// compare-and-set first, then the old step, deleted unless it passed (which rolls both back).
func (s *Store) TakeOverSAMLLoginClaim(ctx context.Context, t *store.SAMLClaimTakeOver) error {
	if t.Claim == "" || t.From == "" {
		return fmt.Errorf("sqlite: take over saml login claim: %w (no claim, or a claim at no step)", sso.ErrConflict)
	}
	at := ts(t.At)
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mfa_challenges SET data = ?, subject = ? WHERE id_hash = ? AND kind = ?
			AND browser = ? AND data = ? AND passed = 0 AND expires_at > ?`,
			[]byte(t.To), t.Subject, t.Claim, store.KindSAMLLoginClaim, t.Browser, []byte(t.From), at)
		if err := affectedOne(res, err); err != nil {
			if !isNoRows(err) {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mfa_challenges WHERE id_hash = ? AND kind = ?
				AND expires_at > ?`, t.Claim, store.KindSAMLLoginClaim, at).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return sso.ErrNotFound
			}
			return fmt.Errorf("%w: the claim is at another step, or another browser's", sso.ErrConflict)
		}
		var passed int
		err = tx.QueryRowContext(ctx, `DELETE FROM mfa_challenges WHERE id_hash = ? AND kind <> ? RETURNING passed`,
			t.From, store.KindSAMLLoginClaim).Scan(&passed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil // gone: expired and purged
		case err != nil:
			return err
		case passed != 0:
			return fmt.Errorf("%w: its step passed", sso.ErrConflict)
		}
		return nil
	})
	if errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrConflict) {
		return fmt.Errorf("sqlite: take over saml login claim: %w", err)
	}
	return wrap("take over saml login claim", err)
}
