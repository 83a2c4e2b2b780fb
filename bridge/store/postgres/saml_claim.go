package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TakeOverSAMLLoginClaim moves a SAML login claim to a new step (store.SAMLStore): the claim's
// compare-and-set first (its row lock orders two take-overs: the second finds the claim at
// another step), then the old step, deleted unless it passed (which rolls both back). The
// step's row lock orders the deletion against the step's own compare-and-set
// (PassMFAChallenge): whichever commits first wins, the other changes nothing.
func (s *Store) TakeOverSAMLLoginClaim(ctx context.Context, t *store.SAMLClaimTakeOver) error {
	if t.Claim == "" || t.From == "" {
		return fmt.Errorf("postgres: take over saml login claim: %w (no claim, or a claim at no step)", sso.ErrConflict)
	}
	at := ts(t.At)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := execOne(ctx, tx, `UPDATE mfa_challenges SET data = $1, subject = $2 WHERE id_hash = $3 AND kind = $4
			AND browser = $5 AND data = $6 AND NOT passed AND expires_at > $7`,
			[]byte(t.To), t.Subject, t.Claim, store.KindSAMLLoginClaim, t.Browser, []byte(t.From), at)
		if isNoRows(err) {
			var live bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mfa_challenges WHERE id_hash = $1 AND kind = $2
				AND expires_at > $3)`, t.Claim, store.KindSAMLLoginClaim, at).Scan(&live); err != nil {
				return err
			}
			if !live {
				return sso.ErrNotFound
			}
			return fmt.Errorf("%w: the claim is at another step, or another browser's", sso.ErrConflict)
		} else if err != nil {
			return err
		}
		var passed bool
		err = tx.QueryRow(ctx, `DELETE FROM mfa_challenges WHERE id_hash = $1 AND kind <> $2 RETURNING passed`,
			t.From, store.KindSAMLLoginClaim).Scan(&passed)
		switch {
		case isNoRows(err):
			return nil // gone: expired and purged
		case err != nil:
			return err
		case passed:
			return fmt.Errorf("%w: its step passed", sso.ErrConflict)
		}
		return nil
	})
	if errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrConflict) {
		return fmt.Errorf("postgres: take over saml login claim: %w", err)
	}
	return wrap("take over saml login claim", err)
}
