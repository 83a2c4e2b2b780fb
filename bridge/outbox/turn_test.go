package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// claimOrder records the ids of the events claimed, in order.
type claimOrder struct {
	store.Store
	mu  sync.Mutex
	ids []string
}

func (c *claimOrder) ClaimEvents(ctx context.Context, cl store.Claim) ([]*store.OutboxEvent, error) {
	evs, err := c.Store.ClaimEvents(ctx, cl)
	c.mu.Lock()
	for _, e := range evs {
		c.ids = append(c.ids, e.ID)
	}
	c.mu.Unlock()
	return evs, err
}

func (c *claimOrder) claimed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// TestTurnLetsRunLookFirst: a place a sign-in frees, with none of the queue's deliveries of the
// app in flight and another sign-in waiting, goes to Run's next look first (the queue's event of
// that app, due meanwhile, is claimed before the waiting sign-in's), so sign-ins arriving without
// end cannot hold the app's queued events back (review s23 X-4). The waiters have no re-check of
// their own here: the queue's look wakes them. Review s24 X-1 found that
// TestSignInsLeaveTheQueueAPlace passes without the turn; this fails without it (the waiting
// sign-in claims at once, before Run is even woken).
func TestTurnLetsRunLookFirst(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &claimOrder{Store: db}
	hold := map[string]chan struct{}{"s0": make(chan struct{}), "s1": make(chan struct{})}
	entered := make(chan string, 8)
	deliver := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		if c, ok := hold[e.Subject]; ok {
			entered <- e.Subject
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": deliver}})
	q.SetRecheck(time.Hour, time.Hour) // the waiter wakes only when woken
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { q.Run(rctx); close(ran) }()
	t.Cleanup(func() { stop(); <-ran })
	now := time.Now()
	enqueue := func(s string, at time.Time) {
		if err := db.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: at}); err != nil {
			t.Fatal(err)
		}
	}
	results := map[string]chan error{}
	signIn := func(s string) {
		enqueue(s, now.Add(time.Hour))
		ch := make(chan error, 1)
		results[s] = ch
		go func() { ch <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", s), "x", s) }()
	}
	signIn("s0")
	signIn("s1")
	<-entered
	<-entered
	enqueue("q", now.Add(-time.Second)) // the queue's own event of x, due: x is full
	signIn("s2")
	for q.Waiting("x") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(hold["s0"])
	if err := <-results["s0"]; err != nil {
		t.Fatal(err)
	}
	close(hold["s1"])
	for _, s := range []string{"s1", "s2"} {
		if err := <-results[s]; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	got := st.claimed()
	iq, is2 := slices.Index(got, "x-q"), slices.Index(got, "x-s2")
	if iq < 0 || is2 < 0 || iq > is2 {
		t.Fatalf("claims %v: want the queue's x-q before the waiting sign-in's x-s2", got)
	}
}

// TestNoTurnWithoutAFreeWorker: with every worker of Run busy at other apps, a place a sign-in
// frees is not held for the queue's look, which could not come before turnFor: the waiting
// sign-in takes it at once (review s24 X-4: 30 sign-ins at a healthy app took 15 s, 6 failed at
// their deadline, while four other apps' slow deliveries filled the workers). Nor with only the
// last worker free, whose claim takes no client with deliveries in flight (review s24 X2-3).
func TestNoTurnWithoutAFreeWorker(t *testing.T) {
	for _, busy := range []int{4, 3} {
		t.Run(fmt.Sprint(busy, " workers busy"), func(t *testing.T) { testNoTurn(t, busy) })
	}
}

func testNoTurn(t *testing.T, busy int) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	others := make(chan struct{})
	hold := map[string]chan struct{}{"s0": make(chan struct{}), "s1": make(chan struct{})}
	entered := make(chan string, 16)
	deliver := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		c := others
		if e.ClientID == "x" {
			c = hold[e.Subject]
		}
		if c != nil {
			entered <- e.ClientID + "/" + e.Subject
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: db, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": deliver}})
	q.SetRecheck(time.Hour, time.Hour)
	now := time.Now()
	enqueue := func(client, s string, at time.Time) {
		if err := db.Enqueue(ctx, &store.OutboxEvent{ID: client + "-" + s, Key: outbox.Key("backchannel", client, s), Channel: "backchannel",
			ClientID: client, Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: at}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"a", "b", "d", "e"}[:busy] {
		enqueue(c, "1", now.Add(-time.Minute))
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { q.Run(rctx); close(ran) }()
	t.Cleanup(func() { close(others); stop(); <-ran })
	for range busy { // the workers busy elsewhere
		<-entered
	}
	results := map[string]chan error{}
	signIn := func(s string) {
		enqueue("x", s, now.Add(time.Hour))
		ch := make(chan error, 1)
		results[s] = ch
		go func() { ch <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", s), "x", s) }()
	}
	signIn("s0")
	signIn("s1")
	<-entered
	<-entered
	signIn("s2")
	for q.Waiting("x") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(hold["s0"])
	if err := <-results["s0"]; err != nil {
		t.Fatal(err)
	}
	if q.HasTurn("x") {
		t.Fatal("the place s0 freed is held for a look of the queue, whose workers are all busy")
	}
	close(hold["s1"])
	for _, s := range []string{"s1", "s2"} {
		if err := <-results[s]; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
