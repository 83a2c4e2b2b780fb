package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"

	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestPassSAMLClaimUsesIndex (closing s19, noticed by S3): PassMFAChallenge's lock and mark of the
// SAML login claim at the step that passed (factors.go, samlClaimAt) can use the partial index on
// the claims' data (mfa_challenges_saml_claim, migration 21) instead of reading every live
// challenge: with sequential scans priced out, the planner takes it, in a generic plan too (the
// kind is written into the statements, not bound).
func TestPassSAMLClaimUsesIndex(t *testing.T) {
	ctx := t.Context()
	_, dsn := openTest(t)
	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	for _, set := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`SELECT 1 FROM mfa_challenges WHERE ` + postgres.SAMLClaimAt + ` FOR UPDATE`,
		`UPDATE mfa_challenges SET passed = TRUE WHERE ` + postgres.SAMLClaimAt + ` AND NOT passed`,
	} {
		rows, err := conn.Query(ctx, `EXPLAIN `+q, []byte("step-hash"))
		ssotest.NoErr(t, err, "EXPLAIN")
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		ssotest.NoErr(t, err, "EXPLAIN rows")
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "mfa_challenges_saml_claim") || strings.Contains(text, "Seq Scan on mfa_challenges") {
			t.Errorf("%s\ndoes not use mfa_challenges_saml_claim:\n%s", q, text)
		}
	}
}
