package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
