package outbox_test

import (
	"context"
	"path/filepath"
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
