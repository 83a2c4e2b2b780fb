package bridge

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// serveLockPath is the file a serving process holds locked while it runs on an SQLite store
// (next to the database: <database>-serve.lock), and false for a store several processes serve
// together (postgres). SQLite is one process: a second `serve` on the same database would run
// the work that must run once (key rotation, purges, the AMS poller, the reconcile) a second
// time and count the anonymous-write limits apart, so it is refused at start-up (lockServe).
// The CLI's commands do not take the lock: they change the store while the server runs (but
// `store rekey`, which must not: RekeyStore).
func serveLockPath(sc store.Config) (string, bool) {
	if sc.Type == "postgres" { // as cluster.ForStore decides: replicas coordinate there
		return "", false
	}
	return sqlite.Path(sc) + "-serve.lock", true
}

// holdServeLock takes the serve lock of sc (serveLockPath, lockServe), making its directory;
// where no lock applies (postgres) it holds nothing. unlock releases it.
func holdServeLock(sc store.Config) (unlock func() error, err error) {
	path, ok := serveLockPath(sc)
	if !ok {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	return lockServe(path)
}

// serveLockedError is lockServe's refusal: another process (pid) holds the serve lock at path.
// Its message is serve's; store rekey says its own (RekeyStore).
type serveLockedError struct{ pid, path string }

func (e *serveLockedError) Error() string {
	return fmt.Sprintf("data_dir: another ssobridge serve (pid %s) uses this SQLite store (%s is locked): "+
		"one process serves an SQLite store; for several replicas use store.type: postgres", e.pid, e.path)
}
