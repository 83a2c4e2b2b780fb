package sqlite

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestIdleClaimWritesNothing (session 21 G2's note): the queue claims every second, and a claim
// that finds nothing due answers from one prepared read: it runs no write transaction. Before,
// every claim ran fairClaim, unprepared, in a write transaction of the group commit (1.4M
// instructions a second on an idle server). A claim with something due still claims it, and
// the check never hides a claimable event (the conformance suite's claim cases run through it).
func TestIdleClaimWritesNothing(t *testing.T) {
	s := openTest(t, Memory)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second).Add(time.Minute) // after the enqueues (the store's clock)
	claim := func(at time.Time, exclude ...string) ([]*store.OutboxEvent, int64) {
		t.Helper()
		before := s.writes.batches.Load()
		evs, err := s.ClaimEvents(ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 1, ExcludeClients: exclude})
		if err != nil {
			t.Fatal(err)
		}
		return evs, s.writes.batches.Load() - before
	}
	event := func(id, key string, due time.Time) *store.OutboxEvent {
		return &store.OutboxEvent{ID: id, Key: key, Type: "logout", Channel: "backchannel", ClientID: "app",
			Subject: key, Payload: []byte(`{}`), NextAttempt: due}
	}

	if evs, writes := claim(now); len(evs) != 0 || writes != 0 {
		t.Fatalf("empty outbox: claimed %d, %d write transactions; want 0 and 0", len(evs), writes)
	}
	// One event waits to retry in an hour; another, due, is claimed and in flight; a third of
	// the same key waits behind it.
	if err := s.Enqueue(ctx, event("later", "k1", now.Add(time.Hour)), event("flight", "k2", now), event("behind", "k2", now)); err != nil {
		t.Fatal(err)
	}
	if evs, writes := claim(now); len(evs) != 1 || evs[0].ID != "flight" || writes != 1 {
		t.Fatalf("due event: claimed %v in %d write transactions; want flight in 1", ids(evs), writes)
	}
	// "behind" is pending and due but waits behind its key's head in flight: the check says an
	// event may be due, and the claim finds none (a write transaction, no event).
	if err := s.MarkDelivered(ctx, "flight", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if evs, writes := claim(now); len(evs) != 1 || evs[0].ID != "behind" || writes != 1 {
		t.Fatalf("next of its key: claimed %v in %d write transactions; want behind in 1", ids(evs), writes)
	}
	// Now: "behind" in flight, "later" waiting to retry: nothing due, nothing written.
	if evs, writes := claim(now.Add(time.Second)); len(evs) != 0 || writes != 0 {
		t.Fatalf("idle (one in flight, one waiting): claimed %v in %d write transactions; want none in 0", ids(evs), writes)
	}
	// Its lease ran out: due again, claimed again.
	if evs, writes := claim(now.Add(2 * time.Minute)); len(evs) != 1 || evs[0].ID != "behind" || writes != 1 {
		t.Fatalf("lease ran out: claimed %v in %d write transactions; want behind in 1", ids(evs), writes)
	}
	if err := s.MarkDelivered(ctx, "behind", now.Add(3*time.Minute), now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// "later" falls due: claimed (its client excluded: searched, and nothing claimed).
	if evs, _ := claim(now.Add(time.Hour+3*time.Minute), "app"); len(evs) != 0 {
		t.Fatalf("excluded client: claimed %v", ids(evs))
	}
	if evs, writes := claim(now.Add(time.Hour + 3*time.Minute)); len(evs) != 1 || evs[0].ID != "later" || writes != 1 {
		t.Fatalf("retry due: claimed %v in %d write transactions; want later in 1", ids(evs), writes)
	}
}

func ids(evs []*store.OutboxEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}
