package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateClientRowsIndexes (session 25): the migration indexing session_clients and consents
// by client keeps every row, DeleteClientCounted's deletes of a client's places in sessions and
// members' consents then find the client's rows through those indexes (in a custom and a
// generic plan, on tables of 40,000 rows of 200 clients) instead of reading the whole
// (session_id, client_id) or (subject, client_id) key, and the removal deletes that client's
// rows only. A database at the version before is filled, opened and upgraded. Run with -v for
// the plans and their times without the indexes (EXPLAIN ANALYZE, rolled back).
func TestMigrateClientRowsIndexes(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool {
		return strings.Contains(q, "session_clients_client") && strings.Contains(q, "consents_client")
	})
	if !found {
		t.Fatal("no migration indexes session_clients and consents by client_id")
	}
	const rows, clients = 40000, 200 // client-0 .. client-199, 200 rows each
	db.exec(`INSERT INTO sessions (id, subject, created_at, expires_at)
		SELECT 's' || i, 'member-' || i, 0, 9000000000000000000 FROM generate_series(1, $1::int) i`, rows)
	db.exec(`INSERT INTO session_clients (session_id, client_id)
		SELECT 's' || i, 'client-' || (i % $2::int) FROM generate_series(1, $1::int) i`, rows, clients)
	db.exec(`INSERT INTO consents (subject, client_id, scopes, granted_at)
		SELECT 'member-' || i, 'client-' || (i % $2::int), 'openid', 0 FROM generate_series(1, $1::int) i`, rows, clients)
	db.exec(`ANALYZE sessions`)
	db.exec(`ANALYZE session_clients`)
	db.exec(`ANALYZE consents`)
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
		{postgres.DeleteClientSessionsSQL, "session_clients", "session_clients_client"},
		{postgres.DeleteClientConsentsSQL, "consents", "consents_client"},
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
	if want := rows / clients; r.Sessions != want || r.Consents != want {
		t.Errorf("DeleteClientCounted(client-7) = %d places in sessions, %d consents; want %d of each", r.Sessions, r.Consents, want)
	}
	for _, table := range []string{"session_clients", "consents"} {
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
	_, err = conn.Exec(ctx, `DROP INDEX session_clients_client; DROP INDEX consents_client`)
	ssotest.NoErr(t, err, "drop indexes")
	for _, d := range deletes {
		t.Logf("%s, without the index:\n%s", d.table, explain(t, true, d.q, "client-8"))
	}
}
