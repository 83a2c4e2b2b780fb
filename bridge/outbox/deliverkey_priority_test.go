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

// TestDeliverKeyTakesTheNextPlace (review s23 X-1, its second half): a sign-in waiting for a
// place among its app's deliveries in flight (DeliverKey) gets the next one that frees, before
// the queue's next claim for that app. Before, Run's workers re-took each freed place at once
// while DeliverKey looked again every 100 ms: under a backlog a sign-in waited out its deadline.
func TestDeliverKeyTakesTheNextPlace(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	var (
		mu    sync.Mutex
		order []string
	)
	hold := map[string]chan struct{}{"m1": make(chan struct{}), "m2": make(chan struct{})}
	entered, done := make(chan string, 8), make(chan string, 8)
	deliver := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		mu.Lock()
		order = append(order, e.Subject)
		mu.Unlock()
		defer func() { done <- e.Subject }()
		if c, ok := hold[e.Subject]; ok {
			entered <- e.Subject
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler), Channels: map[string]outbox.Deliverer{"backchannel": deliver}})
	enqueue := func(s string, at time.Time) {
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: at}); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("m1", now.Add(-3*time.Second))
	enqueue("m2", now.Add(-2*time.Second))
	first := make(chan error, 1)
	go func() { _, err := q.DeliverDue(ctx); first <- err }()
	for range 2 {
		<-entered
	}
	// The backlog: m4 due before the sign-in's m3 (not due yet: DeliverKey sends it all the same).
	enqueue("m4", now.Add(-time.Second))
	enqueue("m3", now.Add(time.Hour))
	key := make(chan error, 1)
	go func() { key <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m3"), "x", "m3") }()
	for q.Waiting("x") == 0 {
		select {
		case err := <-key:
			t.Fatalf("DeliverKey returned %v before it waited for a place", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(hold["m1"])
	for s := <-done; s != "m1"; s = <-done {
	}
	for q.InFlight("x") != 1 { // m1's outcome recorded: its place is free
		time.Sleep(time.Millisecond)
	}
	// The queue's next round, at once: the freed place is the sign-in's.
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-key; err != nil {
		t.Fatalf("DeliverKey: %v", err)
	}
	close(hold["m2"])
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(order)
	mu.Unlock()
	if i3, i4 := slices.Index(got, "m3"), slices.Index(got, "m4"); i3 < 0 || (i4 >= 0 && i4 < i3) {
		t.Fatalf("delivered in the order %v; want m3 (the waiting sign-in) before m4 (the queue's next)", got)
	}
	if q.Waiting("x") != 0 {
		t.Fatal(fmt.Sprint("a sign-in still counted waiting: ", q.Waiting("x")))
	}
}

// TestSignInsLeaveTheQueueAPlace (review s23 X-4): sign-ins waiting for their app's places take
// the next one only while the queue has one of the app's own in flight. With both places held by
// sign-ins and another waiting, a freed place is open to the queue's next claim: sign-ins
// arriving without end would otherwise hold the queue's own events of the app (deprovisioning,
// logouts) back for ever. (The waiting sign-in may win a freed place first, by its own look: then
// another waits and the next freed place is tried; before the fix the queue never got one.)
// Since review s24 X-4 the queue's turn at a freed place needs Run with a worker free to look
// at once, so Run claims here (it had been DeliverDue after each end).
func TestSignInsLeaveTheQueueAPlace(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	const signIns = 8
	hold := map[string]chan struct{}{}
	for i := range signIns {
		hold[fmt.Sprint("s", i)] = make(chan struct{})
	}
	entered := make(chan string, 16)
	queued := make(chan struct{}, 1) // the queue's own event of x went out
	var (
		mu        sync.Mutex
		delivered []string
	)
	deliver := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		mu.Lock()
		delivered = append(delivered, e.Subject)
		mu.Unlock()
		if e.Subject == "q" {
			queued <- struct{}{}
		}
		if c, ok := hold[e.Subject]; ok {
			entered <- e.Subject
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler), Channels: map[string]outbox.Deliverer{"backchannel": deliver}})
	q.SetRecheck(time.Hour, time.Hour) // the waiters wake only when woken
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { q.Run(rctx); close(ran) }()
	defer func() { stop(); <-ran }()
	enqueue := func(s string, at time.Time) {
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: at}); err != nil {
			t.Fatal(err)
		}
	}
	results := make([]chan error, signIns)
	signIn := func(i int) {
		s := fmt.Sprint("s", i)
		enqueue(s, now.Add(time.Hour)) // not due: only its sign-in sends it
		results[i] = make(chan error, 1)
		go func() { results[i] <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", s), "x", s) }()
	}
	waitingOne := func() {
		for q.Waiting("x") == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	// Two sign-ins hold x's two places; a third waits; the queue's own event of x is due.
	signIn(0)
	signIn(1)
	for range 2 {
		<-entered
	}
	enqueue("q", now.Add(-time.Second))
	signIn(2)
	waitingOne()
	next, finished := 3, 0
	for i := 0; ; i++ {
		close(hold[fmt.Sprint("s", i)])
		if err := <-results[i]; err != nil {
			t.Fatal(err)
		}
		finished = i + 1
		got := false
		select {
		case <-queued:
			got = true // the queue had its place
		case <-entered: // the waiting sign-in took the freed place first: another waits
		}
		if got {
			break
		}
		if next == signIns {
			t.Fatalf("round %d: the queue's event still not claimed with a sign-in waiting at each freed place; want it claimed (it has none in flight)", i)
		}
		signIn(next)
		next++
		waitingOne()
	}
	for _, c := range hold {
		select {
		case <-c:
		default:
			close(c)
		}
	}
	for i := finished; i < next; i++ {
		if err := <-results[i]; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(delivered, "q") {
		t.Fatalf("delivered %v; want q (the queue's)", delivered)
	}
}

// TestSignInWaitingForItsOwnEventLeavesThePlace (review s23 X2-1): a sign-in that found its app
// full, and then, a place free, finds its own event in flight on the queue, waits for that
// delivery, not for a place: it no longer holds the queue off the app's free place. Before, its
// waiting mark stayed until it returned (up to timeout + 5 s) and nobody took the place.
func TestSignInWaitingForItsOwnEventLeavesThePlace(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	hold := map[string]chan struct{}{"m1": make(chan struct{}), "m3": make(chan struct{})}
	entered, done := make(chan string, 8), make(chan string, 8)
	deliver := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		defer func() { done <- e.Subject }()
		if c, ok := hold[e.Subject]; ok {
			entered <- e.Subject
			select {
			case <-c:
			case <-ctx.Done():
			}
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler), Channels: map[string]outbox.Deliverer{"backchannel": deliver}})
	for i, s := range []string{"m1", "m3"} {
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: now.Add(time.Duration(i-3) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	// The queue delivers m1 and m3 (the sign-in's own event): x is full.
	first := make(chan error, 1)
	go func() { _, err := q.DeliverDue(ctx); first <- err }()
	for range 2 {
		<-entered
	}
	key := make(chan error, 1)
	go func() { key <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m3"), "x", "m3") }()
	for q.Waiting("x") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(hold["m1"])
	for s := <-done; s != "m1"; s = <-done {
	}
	// Its next look finds a place and its event in flight: it waits for that, not for a place.
	deadline := time.Now().Add(10 * time.Second) // a bound for a look every 100 ms, not a timing
	for q.Waiting("x") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sign-in still holds the queue off x's free place while its own event is in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold["m3"])
	if err := <-key; err != nil {
		t.Fatalf("DeliverKey: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}
