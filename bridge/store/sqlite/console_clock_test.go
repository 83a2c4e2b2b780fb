package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// TestConsoleSessionsEndOnTheStoresClock: console sessions ended with their bridge session end
// at the store's clock, not SQLite's (storetest.RunConsoleClock).
func TestConsoleSessionsEndOnTheStoresClock(t *testing.T) {
	storetest.RunConsoleClock(t, func(t *testing.T, clock func() time.Time) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "ssobridge.db"), WithClock(clock))
	})
}
