package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateClientRequestsIndexes (session 26): the migration indexing auth_requests and
// device_authorizations by client keeps every row, DeleteClientCounted's deletes of a client's
// sign-in requests and device authorizations then find the client's rows through those indexes
// (in a custom and a generic plan, on tables of 40,000 rows of 200 clients) instead of reading
// the whole table, and the removal deletes that client's rows only. A database at the version
// before is filled, opened and upgraded. Run with -v for the plans with and without the indexes
// (EXPLAIN ANALYZE, rolled back).
func TestMigrateClientRequestsIndexes(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool {
		return strings.Contains(q, "auth_requests_client") && strings.Contains(q, "device_authorizations_client")
	})
	if !found {
		t.Fatal("no migration indexes auth_requests and device_authorizations by client_id")
	}
	const rows, clients = 40000, 200 // client-0 .. client-199, 200 rows each
	// Pending requests, and codes issued (the partial auth_requests_coded index holds those);
	// device authorizations pending and approved (device_authorizations_approved).
	db.exec(`INSERT INTO auth_requests (id, client_id, created_at, expires_at, subject, code_hash)
		SELECT 'ar' || i, 'client-' || (i % $2::int), 0, 9000000000000000000, 'member-' || i,
			CASE WHEN i % 2 = 0 THEN 'code-' || i END
		FROM generate_series(1, $1::int) i`, rows, clients)
	db.exec(`INSERT INTO device_authorizations (device_code_hash, user_code, client_id, created_at, expires_at,
			interval_ns, state, subject)
		SELECT 'dc' || i, 'UC' || i, 'client-' || (i % $2::int), 0, 9000000000000000000, 5000000000,
			CASE WHEN i % 2 = 0 THEN 'approved' ELSE 'pending' END, 'member-' || i
		FROM generate_series(1, $1::int) i`, rows, clients)
	db.exec(`ANALYZE auth_requests`)
	db.exec(`ANALYZE device_authorizations`)
	db.close()

	s, err := postgres.Open(ctx, db.dsn)
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })

	conn, err := pgx.Connect(ctx, db.dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	explain := func(t *testing.T, analyze bool, q, client string) string {
		t.Helper()
		opts := "EXPLAIN "
		if analyze {
			opts = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) "
		}
		tx, err := conn.Begin(ctx)
		ssotest.NoErr(t, err, "begin")
		defer tx.Rollback(ctx) //nolint:errcheck // EXPLAIN ANALYZE runs the delete
		r, err := tx.Query(ctx, opts+q, client)
		ssotest.NoErr(t, err, "EXPLAIN")
		plan, err := pgx.CollectRows(r, pgx.RowTo[string])
		ssotest.NoErr(t, err, "EXPLAIN rows")
		return strings.Join(plan, "\n")
	}
	deletes := []struct{ q, table, index string }{
		{postgres.DeleteClientRequestsSQL, "auth_requests", "auth_requests_client"},
		{postgres.DeleteClientDevicesSQL, "device_authorizations", "device_authorizations_client"},
	}
	for _, mode := range []string{`auto`, `force_generic_plan`} {
		_, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode)
		ssotest.NoErr(t, err, "plan_cache_mode")
		for _, d := range deletes {
			plan := explain(t, false, d.q, "client-7")
			if !strings.Contains(plan, " on "+d.index) || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s: the delete of a client's %s does not use %s:\n%s", mode, d.table, d.index, plan)
			}
		}
	}

	r, err := s.DeleteClientCounted(ctx, "client-7")
	ssotest.NoErr(t, err, "DeleteClientCounted(client-7)")
	if want := rows / clients; r.Requests != want || r.Devices != want {
		t.Errorf("DeleteClientCounted(client-7) = %d sign-in requests, %d device authorizations; want %d of each", r.Requests, r.Devices, want)
	}
	for _, table := range []string{"auth_requests", "device_authorizations"} {
		var left, gone int
		err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE client_id = 'client-7') FROM `+table).Scan(&left, &gone)
		ssotest.NoErr(t, err, "count %s", table)
		if want := rows - rows/clients; left != want || gone != 0 {
			t.Errorf("%s after the removal: %d rows, %d of client-7; want %d, 0", table, left, gone, want)
		}
	}

	if !testing.Verbose() {
		return
	}
	_, err = conn.Exec(ctx, `SET plan_cache_mode = auto`)
	ssotest.NoErr(t, err, "plan_cache_mode")
	for _, d := range deletes {
		t.Logf("%s, indexed:\n%s", d.table, explain(t, true, d.q, "client-8"))
	}
	_, err = conn.Exec(ctx, `DROP INDEX auth_requests_client; DROP INDEX device_authorizations_client`)
	ssotest.NoErr(t, err, "drop indexes")
	for _, d := range deletes {
		t.Logf("%s, without the index:\n%s", d.table, explain(t, true, d.q, "client-8"))
	}
}
