package postgres_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestReplicasClaimOutboxInOrder: replicas claiming, delivering and failing one outbox at once
// (each with its own pool: they meet only in PostgreSQL) never claim an event twice, nor a
// member's later event while an earlier one is in flight or waits to retry.
func TestReplicasClaimOutboxInOrder(t *testing.T) {
	rs := replicas(t, 4)
	stores := make([]store.Store, len(rs))
	for i, r := range rs {
		stores[i] = r
	}
	storetest.OutboxClaimRace(t, ssotest.Now(), stores...)
}
