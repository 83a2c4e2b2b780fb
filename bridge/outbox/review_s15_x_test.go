package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestTwoSlowTargetsDoNotHoldOtherApps (review s15 X-5): the per-client cap (two deliveries of
// one client in flight, of four workers) keeps one slow app from holding the queue, but two
// slow apps hold all four workers, and each worker that comes free claims the oldest due event
// of a client below the cap: the slow apps' backlog (a reconcile's events for every member of a
// new target, queued before) comes first, so another app's delivery -- a back-channel logout --
// waits until both backlogs have been tried once, one request timeout per two events of each.
// Here 60 events of each slow app (300 ms each, standing for shadow.timeout) come before one
// event of another app: about 9 s of backlog. A free worker must go to a client with nothing
// in flight first.
func TestTwoSlowTargetsDoNotHoldOtherApps(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	slow := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		select { // no answer until the request's timeout
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return outbox.Retry("no answer")
	})
	logoutDone := make(chan struct{})
	fast := outbox.DeliverFunc(func(context.Context, *store.OutboxEvent) error { close(logoutDone); return nil })
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Targets: map[string]outbox.Route{
		"slow1": {Kind: "scim", Deliverer: slow}, "slow2": {Kind: "scim", Deliverer: slow}, "bank": {Kind: "scim", Deliverer: fast}}})
	var evs []*store.OutboxEvent
	for i := range 60 {
		for _, c := range []string{"slow1", "slow2"} {
			s := fmt.Sprintf("member-%d", i)
			evs = append(evs, &store.OutboxEvent{ID: c + s, Key: outbox.Key("scim", c, s), Channel: "scim",
				ClientID: c, Subject: s, Type: "user.created", Payload: []byte("{}")})
		}
	}
	evs = append(evs, &store.OutboxEvent{ID: "bank-logout", Key: outbox.Key("scim", "bank", "m"), Channel: "scim",
		ClientID: "bank", Subject: "m", Type: "user.deactivated", Payload: []byte("{}")})
	if err := st.Enqueue(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); q.Run(ctx) }()
	defer func() { <-ran }()
	defer cancel()
	start := time.Now()
	select {
	case <-logoutDone:
	case <-time.After(4 * time.Second): // far below the 9 s of backlog; not a performance bound
		t.Fatalf("another app's delivery waited %v behind two slow apps' backlog", time.Since(start).Round(time.Millisecond))
	}
}
