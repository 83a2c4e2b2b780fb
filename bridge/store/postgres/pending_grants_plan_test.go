package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"

	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestClosePendingGrantsUsesIndex (session 23, left by s22 H3): RevokeGrants' closing of a
// member's grants not yet redeemed (closePendingGrants), for one app or all, reads the partial
// indexes of the coded requests and approved device authorizations (migration 23) on tables of
// 50,000 rows each, in a custom and a generic plan, instead of reading every row. Run with -v
// for the plans and their times without the indexes (EXPLAIN ANALYZE, rolled back).
func TestClosePendingGrantsUsesIndex(t *testing.T) {
	ctx := t.Context()
	_, dsn := openTest(t)
	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO auth_requests (id, client_id, created_at, expires_at, done, subject, code_hash, code_consumed)
			SELECT 'r' || i, 'client-a', 0, 9000000000000000000, i % 5 <> 0, 'member-' || i,
				CASE WHEN i % 5 <> 0 THEN 'h' || i END, i % 10 <> 1 FROM generate_series(1, 50000) i`,
		`INSERT INTO device_authorizations (device_code_hash, user_code, client_id, created_at, expires_at, interval_ns, state, subject)
			SELECT 'd' || i, 'U' || i, 'client-a', 0, 9000000000000000000, 5000000000,
				(ARRAY['pending', 'approved', 'consumed', 'denied'])[i % 4 + 1], CASE WHEN i % 4 <> 0 THEN 'member-' || i ELSE '' END
			FROM generate_series(1, 50000) i`,
		`ANALYZE auth_requests`, `ANALYZE device_authorizations`,
	} {
		_, err := conn.Exec(ctx, q)
		ssotest.NoErr(t, err, "fill")
	}
	explain := func(t *testing.T, analyze bool, subject, client string) string {
		t.Helper()
		q, args := postgres.ClosePendingGrantsSQL(subject, client)
		opts := "EXPLAIN "
		if analyze {
			opts = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) "
		}
		tx, err := conn.Begin(ctx)
		ssotest.NoErr(t, err, "begin")
		defer tx.Rollback(ctx) //nolint:errcheck // EXPLAIN ANALYZE runs the update
		rows, err := tx.Query(ctx, opts+q, args...)
		ssotest.NoErr(t, err, "EXPLAIN")
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		ssotest.NoErr(t, err, "EXPLAIN rows")
		return strings.Join(plan, "\n")
	}
	cases := []struct{ subject, client string }{{"member-11", "client-a"}, {"member-11", ""}, {"", "client-a"}}
	for _, mode := range []string{`auto`, `force_generic_plan`} {
		_, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode)
		ssotest.NoErr(t, err, "plan_cache_mode")
		for _, c := range cases[:2] {
			plan := explain(t, false, c.subject, c.client)
			for _, ix := range []string{"auth_requests_coded", "device_authorizations_approved"} {
				if !strings.Contains(plan, ix) || strings.Contains(plan, "Seq Scan") {
					t.Errorf("%s, subject %q, client %q: the closing does not use %s:\n%s", mode, c.subject, c.client, ix, plan)
				}
			}
		}
	}
	if !testing.Verbose() {
		return
	}
	_, err = conn.Exec(ctx, `SET plan_cache_mode = auto`)
	ssotest.NoErr(t, err, "plan_cache_mode")
	for _, c := range cases {
		t.Logf("subject %q, client %q, indexed:\n%s", c.subject, c.client, explain(t, true, c.subject, c.client))
	}
	_, err = conn.Exec(ctx, `DROP INDEX auth_requests_coded; DROP INDEX device_authorizations_approved`)
	ssotest.NoErr(t, err, "drop indexes")
	for _, c := range cases {
		t.Logf("subject %q, client %q, without the indexes:\n%s", c.subject, c.client, explain(t, true, c.subject, c.client))
	}
}
