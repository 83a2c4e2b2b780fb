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

// Review s14 X-6: one slow or hostile target (an app's SCIM server that accepts the connection
// and never answers, one that is down behind a black-holing firewall) holds the whole queue:
// DeliverDue claims 4 events in order and waits for all 4 before claiming more, so while the
// slow app's events are first in line every other app's deliveries, back-channel logouts
// included, wait a whole request timeout (shadow.timeout) per 4 of them. Here 8 events for the
// slow app come before one back-channel logout for another app; the logout must go out while
// the slow app's deliveries hang.
func TestSlowTargetDoesNotHoldOtherApps(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	release := make(chan struct{})
	slow := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		select { // an answer that never comes: until the request's timeout, or the test's end
		case <-release:
		case <-ctx.Done():
		}
		return outbox.Retry("no answer")
	})
	logoutDone := make(chan struct{})
	fast := outbox.DeliverFunc(func(context.Context, *store.OutboxEvent) error { close(logoutDone); return nil })
	cfg := outbox.Defaults()
	q := outbox.New(outbox.Options{Config: cfg, Store: st, Targets: map[string]outbox.Route{
		"slowapp": {Kind: "scim", Deliverer: slow}, "bank": {Kind: "scim", Deliverer: fast}}})
	for i := range 8 {
		s := fmt.Sprintf("member-%d", i)
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "slow-" + s, Key: outbox.Key("scim", "slowapp", s), Channel: "scim",
			ClientID: "slowapp", Subject: s, Type: "user.updated", Payload: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "bank-logout", Key: outbox.Key("scim", "bank", "m"), Channel: "scim",
		ClientID: "bank", Subject: "m", Type: "user.deactivated", Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); q.Run(ctx) }()
	defer func() { <-ran }() // Run records the hanging deliveries' outcomes before the store closes
	defer cancel()
	defer close(release)
	select {
	case <-logoutDone:
	case <-time.After(5 * time.Second): // far below shadow.timeout's default; not a performance bound
		t.Fatalf("another app's delivery waited behind the slow app's hanging ones (shadow.timeout %v each 4)", cfg.Timeout)
	}
}

// TestDeliverDueCapsOneClient (review s14 X-6): DeliverDue claims per worker as Run does, at most
// two deliveries of one client at a time: with four of one app's events first in line and one of
// another app's, it starts two of the first app's and the other app's, and claims no more.
func TestDeliverDueCapsOneClient(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	release, started := make(chan struct{}), make(chan string, 8)
	hold := outbox.DeliverFunc(func(_ context.Context, e *store.OutboxEvent) error {
		started <- e.ClientID
		<-release
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Targets: map[string]outbox.Route{
		"slowapp": {Kind: "scim", Deliverer: hold}, "bank": {Kind: "scim", Deliverer: hold}}})
	for i, c := range []string{"slowapp", "slowapp", "slowapp", "slowapp", "bank"} {
		s := fmt.Sprintf("member-%d", i)
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: c + s, Key: outbox.Key("scim", c, s), Channel: "scim",
			ClientID: c, Subject: s, Type: "user.updated", Payload: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() { n, err := q.DeliverDue(ctx); res <- result{n, err} }()
	got := map[string]int{}
	for range 3 {
		got[<-started]++
	}
	close(release)
	r := <-res
	if r.err != nil || r.n != 3 || got["slowapp"] != 2 || got["bank"] != 1 {
		t.Fatalf("DeliverDue = %d, %v; started %v; want 3: two of slowapp's, bank's", r.n, r.err, got)
	}
}
