package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateTogether: replicas opening one new database at the same moment apply each
// migration once (the advisory lock) and all start.
func TestMigrateTogether(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	stores := make([]*postgres.Store, 6)
	for i, err := range ssotest.Parallel(len(stores), func(i int) error {
		var err error
		stores[i], err = postgres.Open(t.Context(), dsn, postgres.WithMaxConns(1))
		return err
	}) {
		ssotest.NoErr(t, err, "Open %d", i)
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var rows, version int
	err := stores[0].Pool().QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &version)
	ssotest.NoErr(t, err, "read schema_migrations")
	if rows != postgres.Version() || version != postgres.Version() {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d", rows, version, postgres.Version())
	}
	v, err := stores[1].Migrate(t.Context())
	ssotest.NoErr(t, err, "Migrate again")
	if v != postgres.Version() {
		t.Fatalf("Migrate = %d, want %d", v, postgres.Version())
	}
}

// TestMigrateRefusesNewerSchema: a database a newer binary migrated is not used.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	s, dsn := openTest(t)
	_, err := s.Pool().Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, postgres.Version()+1)
	ssotest.NoErr(t, err, "record a future version")
	_, err = postgres.Open(t.Context(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

// TestOpenUnreachable: a server that does not answer fails Open with a message naming the
// database, without the password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://bridge:s3cret-pw@127.0.0.1:1/bridgedb?connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "bridgedb") {
		t.Fatalf("error %q: want the database named and no password", err)
	}
}

// TestMigrateSAMLNameIDFormat: version 7 moves the NameID format a waiting SAML sign-in asked
// for from a "t." prefix of its id to a column. A database at version 6 holding a transient
// request ("t." id) and another is opened: the first has the transient format and keeps its id
// (its browser carries it), the other has none, and both complete.
func TestMigrateSAMLNameIDFormat(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	for v := 1; v <= 6; v++ {
		exec(postgres.MigrationSQL(v))
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, v)
	}
	exp := time.Now().Add(time.Hour).UnixNano() // the store keeps nanoseconds
	for _, id := range []string{"t.waiting-transient", "waiting-own"} {
		exec(`INSERT INTO saml_requests (id, sp, request_id, acs_url, acs_binding, acs_index, relay_state, force_authn,
			is_passive, browser, done, created_at, expires_at) VALUES ($1, 'https://sp.example/', 'id-1', 'https://sp.example/acs',
			'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 0, '', FALSE, FALSE, '', FALSE, 0, $2)`, id, exp)
	}
	ssotest.NoErr(t, conn.Close(ctx), "close")

	s, err := postgres.Open(ctx, dsn)
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	for id, want := range map[string]string{"t.waiting-transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "waiting-own": ""} {
		got, err := s.SAMLRequest(ctx, id)
		if err != nil || got.NameIDFormat != want || got.ID != id {
			t.Fatalf("SAMLRequest(%s) after the upgrade = %+v, %v; want the format %q", id, got, err, want)
		}
		ssotest.NoErr(t, s.BindSAMLRequest(ctx, id, "b"), "BindSAMLRequest(%s)", id)
		ssotest.NoErr(t, s.CompleteSAMLRequest(ctx, id, "b"), "CompleteSAMLRequest(%s)", id)
	}
}
