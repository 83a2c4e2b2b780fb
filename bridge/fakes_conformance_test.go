package bridge_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// TestStoreFakesConformance: the store wrappers the bridge's tests count or hold calls with
// pass the store conformance suite over SQLite, as every fake must (design invariant), in the
// state the tests build them (pairedReads and raceSignIns not armed): they change nothing of
// what the store they wrap does. (countersDown: TestCountersDownConformance.)
func TestStoreFakesConformance(t *testing.T) {
	for _, fake := range []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		{"writeCounter", func(s store.Store) store.Store { return &writeCounter{Store: s} }},
		{"bindCounter", func(s store.Store) store.Store { return &bindCounter{Store: s} }},
		{"pairedReads", func(s store.Store) store.Store { return &pairedReads{Store: s} }},
		{"raceSignIns", func(s store.Store) store.Store { return &raceSignIns{Store: s} }},
		{"raceSAMLRequests", func(s store.Store) store.Store { return &raceSAMLRequests{Store: s} }},
		{"beforeFactorWrite", func(s store.Store) store.Store { return &beforeFactorWrite{Store: s} }},
	} {
		t.Run(fake.name, func(t *testing.T) {
			t.Parallel()              // each fake over its own stores
			open := migratedSQLite(t) // each case on a copy of one migrated database
			storetest.Run(t, func(t *testing.T) store.Store { return fake.wrap(open(t)) })
		})
	}
}
