package bridge_test

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// migratedSQLite returns an opener of empty SQLite stores for the store conformance suite
// (storetest.Run opens one for each of its ~300 cases). Each is a file database copied from one
// migrated once here, in t's temporary directory: sqlite.Open of a new database applies every
// schema migration, and those ~20 ms of CPU a case (87% of TestCountersDownConformance's
// profile; six times over in TestStoreFakesConformance) were most of what the suites cost. A
// copy is opened by sqlite.Open as any database at the current schema version is, so the
// store under test is the real file store, as the fakes wrap in TestSharedThrottleFailsClosed.
// The files are in memory (/dev/shm) where there is one: on a disk each close's checkpoint
// waits for its fsync, which took more time than the migrations saved.
func migratedSQLite(t *testing.T) func(t *testing.T) *sqlite.Store {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "ssobridge-test-")
	if err == nil {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	} else {
		dir = t.TempDir()
	}
	tmpl := filepath.Join(dir, "template.db")
	s, err := sqlite.Open(t.Context(), tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the last connection checkpoints the WAL into the file and removes it: the file
	// alone is the database.
	if _, err := os.Stat(tmpl + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("the template's WAL is still there after Close (%v)", err)
	}
	image, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	return func(t *testing.T) *sqlite.Store {
		t.Helper()
		path := filepath.Join(dir, strconv.FormatInt(n.Add(1), 10)+".db")
		if err := os.WriteFile(path, image, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				_ = os.Remove(f)
			}
		})
		return s
	}
}
