package bridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// wrappedSQLite is the store set-up of the fault tests (session 27, T: o26_*, f6_* and the
// SAML passive tests wrote it out each): the bridge's SQLite store in a file of the test's,
// handed to the bridge wrapped (a fault store), the store behind kept for the test's reads.
type wrappedSQLite struct {
	path string
	wrap func(*sqlite.Store) store.Store
	st   *sqlite.Store // the store behind, once the bridge is made
}

func newWrappedSQLite(t *testing.T, wrap func(*sqlite.Store) store.Store) *wrappedSQLite {
	return &wrappedSQLite{path: filepath.Join(t.TempDir(), "bridge.db"), wrap: wrap}
}

// open is envDeps.store: it opens the file (closed when t ends) and returns it wrapped.
func (w *wrappedSQLite) open(t testing.TB) store.Store {
	s, err := sqlite.Open(t.Context(), w.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.st = s
	return w.wrap(s)
}
