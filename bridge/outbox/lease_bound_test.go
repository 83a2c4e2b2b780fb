package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestDeliveryBoundedByLease: a claimed delivery must end before its lease does. A deliverer
// making several requests (SCIM with groups: a lookup and a change per role, each bounded by
// the per-request timeout only) could otherwise outlive the lease, and then another replica, or
// a sign-in's synchronous delivery on this one, claims the same event and sends it again while
// the first is still sending it.
func TestDeliveryBoundedByLease(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var deadline time.Time
	var bounded bool
	var leaseUntil time.Time
	d := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		deadline, bounded = ctx.Deadline()
		leaseUntil = e.LeaseUntil
		return nil
	})
	cfg := outbox.Defaults()
	q := outbox.New(outbox.Options{Config: cfg, Store: st, Targets: map[string]outbox.Route{"portal": {Kind: "scim", Deliverer: d}}})
	e := &store.OutboxEvent{ID: "e1", Key: outbox.Key("scim", "portal", "s"), Channel: "scim", ClientID: "portal",
		Subject: "s", Type: "t", Payload: []byte("{}")}
	if err := st.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := q.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	if !bounded {
		t.Fatal("the deliverer's context has no deadline: a delivery can outlive its lease")
	}
	if leaseUntil.IsZero() || !deadline.After(start.Add(time.Second)) {
		t.Fatalf("lease until %v, delivery deadline %v: the delivery has no time", leaseUntil, deadline)
	}
	if lease := leaseUntil.Sub(start); deadline.After(start.Add(lease)) {
		t.Errorf("the delivery may run until %v after its claim, past its lease (%v)", deadline.Sub(start), lease)
	}
}

// leaseClock is a store that notes when an event was claimed (the clock then jumps to the end
// of the lease) and what failure was recorded.
type leaseClock struct {
	store.Store
	mu      sync.Mutex
	claimed bool
	failed  string
}

func (s *leaseClock) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	evs, err := s.Store.ClaimEvents(ctx, c)
	s.mu.Lock()
	s.claimed = s.claimed || len(evs) > 0
	s.mu.Unlock()
	return evs, err
}

func (s *leaseClock) MarkFailed(ctx context.Context, id string, lease, next time.Time, lastError string, dead bool) error {
	s.mu.Lock()
	s.failed = lastError
	s.mu.Unlock()
	return s.Store.MarkFailed(ctx, id, lease, next, lastError, dead)
}

// TestDeliveryCutByLeaseSaysSo (end-of-session review s12 RV1): a delivery stopped because its
// claim's lease was running out records that, not a bare "context deadline exceeded" that reads
// like one request's timeout (the operator's remedies differ).
func TestDeliveryCutByLeaseSaysSo(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lc := &leaseClock{Store: st}
	base := time.Now().Add(time.Minute) // after the event was enqueued (the store's clock)
	now := func() time.Time {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		if lc.claimed {
			return base.Add(time.Hour) // the delivery starts with its lease all but gone
		}
		return base
	}
	d := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		<-ctx.Done()
		return fmt.Errorf("SCIM GET /Groups: %w", ctx.Err())
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: lc, Now: now,
		Targets: map[string]outbox.Route{"portal": {Kind: "scim", Deliverer: d}}})
	e := &store.OutboxEvent{ID: "e1", Key: outbox.Key("scim", "portal", "s"), Channel: "scim", ClientID: "portal",
		Subject: "s", Type: "t", Payload: []byte("{}")}
	if err := st.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !strings.Contains(lc.failed, "stopped before its claim's lease ran out") || !strings.Contains(lc.failed, "SCIM GET /Groups") {
		t.Fatalf("recorded failure %q: want it to say the lease cut the delivery, with the request's error", lc.failed)
	}
}
