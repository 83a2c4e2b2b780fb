package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// readCounter counts the outbox reads a queue makes (claims and listings).
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (r *readCounter) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	r.reads.Add(1)
	return r.Store.ClaimEvents(ctx, c)
}

func (r *readCounter) OutboxEvents(ctx context.Context, f store.OutboxFilter) ([]*store.OutboxEvent, error) {
	r.reads.Add(1)
	return r.Store.OutboxEvents(ctx, f)
}

// waitFor waits until cond holds (synchronisation with the queue's goroutines, not a timed
// assertion: the test's own deadline bounds it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDeliverKeyWakesWhenAPlaceFrees: a sign-in waiting for a place among its app's deliveries
// in flight (DeliverKey) reads nothing while it waits, and goes as soon as one of them ends,
// the other still hanging. Before, it read the store every 100 ms until a place freed or its
// deadline came: many sign-ins at a hanging app each polled until their deadline (O5's note).
// The store re-check (for an event delivered by another replica) is set an hour away here: the
// wake-up alone brings it back.
func TestDeliverKeyWakesWhenAPlaceFrees(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &readCounter{Store: db}
	release := map[string]chan struct{}{"m1": make(chan struct{}), "m2": make(chan struct{})}
	entered := make(chan string, 8)
	var (
		mu   sync.Mutex
		sent []string
	)
	d := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		mu.Lock()
		sent = append(sent, e.Subject)
		mu.Unlock()
		if ch := release[e.Subject]; ch != nil { // m1 and m2: no answer until the test releases them
			entered <- e.Subject
			<-ch
		}
		return nil
	})
	now := time.Now()
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": d}})
	q.SetRecheck(time.Hour, time.Hour)
	for _, s := range []string{"m1", "m2", "m3"} {
		if err := db.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: now}); err != nil {
			t.Fatal(err)
		}
	}
	due := make(chan error, 1)
	go func() { _, err := q.DeliverDue(ctx); due <- err }()
	defer func() { close(release["m2"]); <-due }()
	for range 2 {
		<-entered
	}

	done := make(chan error, 1)
	go func() { done <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m3"), "x", "m3") }()
	waitFor(t, "the sign-in waits for a place", func() bool { return q.Waiting("x") == 1 })
	before := st.reads.Load()
	time.Sleep(300 * time.Millisecond) // room for a poll to show; nothing below depends on its length
	if n := st.reads.Load() - before; n != 0 {
		t.Errorf("a sign-in waiting for a place read the outbox %d times while it waited; want none (woken when a place frees)", n)
	}
	select {
	case err := <-done:
		t.Fatalf("DeliverKey returned %v with both of x's places taken", err)
	default:
	}

	close(release["m1"]) // one place frees; m2 still hangs
	if err := <-done; err != nil {
		t.Fatalf("DeliverKey once a place freed = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sent) != "[m1 m2 m3]" && fmt.Sprint(sent) != "[m2 m1 m3]" {
		t.Fatalf("sent %v, want m1 and m2 (the queue's), then m3 (the sign-in's)", sent)
	}
	if ev, err := db.OutboxEvent(ctx, "x-m2"); err != nil || ev.State != store.OutboxPending {
		t.Fatalf("x-m2 when the sign-in returned = %+v, %v; want still in flight (the sign-in went on m1's place)", ev, err)
	}
}

// TestDeliverKeySeesItsEventDeliveredElsewhere: a sign-in whose event another replica holds
// (its lease) learns of its delivery by looking at the store again (nothing here ends), and
// returns without sending it.
func TestDeliverKeySeesItsEventDeliveredElsewhere(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var sent atomic.Int64
	d := outbox.DeliverFunc(func(context.Context, *store.OutboxEvent) error { sent.Add(1); return nil })
	now := time.Now()
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: db, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": d}})
	q.SetRecheck(10*time.Millisecond, 20*time.Millisecond)
	key := outbox.Key("backchannel", "x", "m1")
	if err := db.Enqueue(ctx, &store.OutboxEvent{ID: "x-m1", Key: key, Channel: "backchannel",
		ClientID: "x", Subject: "m1", Type: "logout", Payload: []byte("{}"), NextAttempt: now}); err != nil {
		t.Fatal(err)
	}
	// Another replica claims it.
	evs, err := db.ClaimEvents(ctx, store.Claim{Now: now, Lease: time.Minute, Limit: 1, Key: key})
	if err != nil || len(evs) != 1 {
		t.Fatalf("the other replica's claim = %v, %v", evs, err)
	}
	done := make(chan error, 1)
	go func() { done <- q.DeliverKey(ctx, key, "x", "m1") }()
	select {
	case err := <-done:
		t.Fatalf("DeliverKey returned %v while its event was in flight elsewhere", err)
	case <-time.After(50 * time.Millisecond): // it waits (a few re-checks)
	}
	if err := db.MarkDelivered(ctx, evs[0].ID, evs[0].LeaseUntil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("DeliverKey once its event was delivered elsewhere = %v, want nil", err)
	}
	if n := sent.Load(); n != 0 {
		t.Fatalf("the sign-in sent its event %d times; the other replica delivered it", n)
	}
}
