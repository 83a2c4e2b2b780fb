package outbox_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// outcomeFirst holds each claim after the first until an outcome was recorded (or 500 ms went
// by): the interleaving a loaded machine gives at random, made every time.
type outcomeFirst struct {
	store.Store
	claims   int // ClaimEvents calls (one at a time: the queue's claimMu)
	once     sync.Once
	recorded chan struct{}
}

func (s *outcomeFirst) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	if s.claims++; s.claims > 1 {
		select {
		case <-s.recorded:
		case <-time.After(500 * time.Millisecond):
		}
	}
	return s.Store.ClaimEvents(ctx, c)
}

func (s *outcomeFirst) MarkFailed(ctx context.Context, id string, lease, next time.Time, lastError string, dead bool) error {
	err := s.Store.MarkFailed(ctx, id, lease, next, lastError, dead)
	s.once.Do(func() { close(s.recorded) })
	return err
}

// TestDeliverDueClaimsWhatWasDue: DeliverDue delivers what was due when it was called. It
// claimed one event at a time and started each delivery at once, so a delivery refused fast
// and recorded before the next claim made the next event of its key (behind a dead one), or
// the event itself (after a short backoff), due within the same call: two events of one key
// claimed in one call, one after the other, and provisioning's TestDeadLetterAfterMaxAttempts
// failed at random on a loaded machine ("claimed 2 events"; session 15 read it as the key's
// order broken and reverted X-5's mend 7b927b0 for it).
func TestDeliverDueClaimsWhatWasDue(t *testing.T) {
	ctx := t.Context()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	st := &outcomeFirst{Store: sq, recorded: make(chan struct{})}
	refuse := outbox.DeliverFunc(func(context.Context, *store.OutboxEvent) error { return outbox.Retry("503") })
	cfg := outbox.Defaults()
	cfg.MaxAttempts = 1 // the first failure is dead: the key's next event is due behind it
	q := outbox.New(outbox.Options{Config: cfg, Store: st, Targets: map[string]outbox.Route{"app": {Kind: "scim", Deliverer: refuse}}})
	var evs []*store.OutboxEvent
	for _, id := range []string{"first", "second"} {
		evs = append(evs, &store.OutboxEvent{ID: id, Key: outbox.Key("scim", "app", "m"), Channel: "scim",
			ClientID: "app", Subject: "m", Type: "user.updated", Payload: []byte("{}")})
	}
	if err := sq.Enqueue(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(ctx); n != 1 || err != nil {
		t.Fatalf("DeliverDue claimed %d (%v), want 1: the second event was behind the first when it was called", n, err)
	}
	second, err := sq.OutboxEvent(ctx, "second")
	if err != nil || second.Attempts != 0 {
		t.Fatalf("second event after the first call: %+v (%v), want unclaimed", second, err)
	}
	if n, err := q.DeliverDue(ctx); n != 1 || err != nil {
		t.Fatalf("second DeliverDue claimed %d (%v), want 1: the event behind the dead one", n, err)
	}
}
