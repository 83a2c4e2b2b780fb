package postgres_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// TestConsoleSessionsEndOnTheStoresClock: console sessions ended with their bridge session end
// at the store's clock, not PostgreSQL's (storetest.RunConsoleClock).
func TestConsoleSessionsEndOnTheStoresClock(t *testing.T) {
	storetest.RunConsoleClock(t, func(t *testing.T, clock func() time.Time) store.Store {
		s, _ := openTest(t, postgres.WithClock(clock))
		return s
	})
}
