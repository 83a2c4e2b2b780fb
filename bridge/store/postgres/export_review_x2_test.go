package postgres

// Review s23 X-2 (goes in bridge/store/postgres, with review_x2_revoke_race_test.go).

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/sso"
)

// ReviewX2RedeemInTx plays one code exchange's statement as issueOne runs it (redeemCodeSQL /
// redeemCodeByRequestSQL: the code's compare-and-set and the family's insert) in tx, left
// uncommitted: the moment between the statement's compare-and-set and its commit.
func ReviewX2RedeemInTx(ctx context.Context, tx pgx.Tx, in sso.Issue, now time.Time) (bool, error) {
	args, byRequest := codeArgs(&in, ts(now))
	q := redeemCodeSQL
	if byRequest {
		q = redeemCodeByRequestSQL
	}
	var consumed bool
	err := tx.QueryRow(ctx, q, append(args, familyArgs(in.Family, now)...)...).Scan(&consumed)
	return consumed, err
}
