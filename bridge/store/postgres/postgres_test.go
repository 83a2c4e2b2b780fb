package postgres_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// openTest opens a store on a fresh database of its own, closed and dropped when t ends.
func openTest(t testing.TB, opts ...postgres.Option) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	s, err := postgres.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() }) // runs before the database is dropped
	return s, dsn
}

// TestConformance runs the bridge store suite (which includes the sso.Store suite) against
// PostgreSQL: a fresh database for the test, a fresh schema in it per subtest.
func TestConformance(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(t.Context(), pgtest.NewSchema(t, db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
