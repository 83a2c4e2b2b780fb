package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// oldDatabase is a new database at an older schema, for the migration tests: the test writes
// rows of that schema with exec, closes it, and opens the store on dsn, which migrates the rest.
type oldDatabase struct {
	t    *testing.T
	dsn  string
	conn *pgx.Conn
}

// migratedBefore makes a database with every migration before the first one stop reports
// (recorded in schema_migrations as the store records them), and whether stop reported one.
func migratedBefore(t *testing.T, stop func(version int, sql string) bool) (*oldDatabase, bool) {
	t.Helper()
	d := &oldDatabase{t: t, dsn: pgtest.NewDatabase(t)}
	conn, err := pgx.Connect(t.Context(), d.dsn)
	ssotest.NoErr(t, err, "connect")
	d.conn = conn
	d.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	for v := 1; v <= postgres.Version(); v++ {
		q := postgres.MigrationSQL(v)
		if stop(v, q) {
			return d, true
		}
		d.exec(q)
		d.exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, v)
	}
	return d, false
}

// exec runs q on the old schema, failing the test on an error.
func (d *oldDatabase) exec(q string, args ...any) {
	d.t.Helper()
	if _, err := d.conn.Exec(d.t.Context(), q, args...); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
}

// close ends the connection, before the store opens the database.
func (d *oldDatabase) close() {
	d.t.Helper()
	ssotest.NoErr(d.t, d.conn.Close(d.t.Context()), "close")
}
