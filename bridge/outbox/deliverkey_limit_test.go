package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestDeliverKeyKeepsThePerClientLimit (closing-s22, O3/O4): a sign-in's synchronous delivery
// (DeliverKey) counts among its app's deliveries in flight, as a worker's does: with two of the
// app's events in flight (a target that does not answer), it waits for a place rather than send a
// third request, gives up at its deadline with the event untouched, and goes once a place frees.
// Before, it claimed and sent at once: three requests to the hanging target, one more per
// sign-in.
func TestDeliverKeyKeepsThePerClientLimit(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	var (
		mu        sync.Mutex
		inFlight  int
		most      int
		delivered []string
		now       = time.Now().UTC().Truncate(time.Second)
		stepping  bool // each reading of the clock moves it on an hour: a wait is past any deadline
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if stepping {
			now = now.Add(time.Hour)
		}
		return now
	}
	release, entered := make(chan struct{}), make(chan string, 8)
	hang := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		over := inFlight > 2
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			delivered = append(delivered, e.Subject)
			mu.Unlock()
		}()
		if over { // the limit broken: said below, not hung on
			return nil
		}
		entered <- e.Subject
		select { // no answer until the test releases it
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Now: clock, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": hang}})
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("m%d", i)
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// The queue claims two of x's events (its limit) and their deliveries hang.
	due := make(chan error, 1)
	go func() {
		n, err := q.DeliverDue(ctx)
		if err == nil && n != 2 {
			err = fmt.Errorf("DeliverDue claimed %d events, want 2 (x's limit)", n)
		}
		due <- err
	}()
	released := false
	defer func() {
		if !released {
			close(release)
		}
		<-due
	}()
	for range 2 {
		<-entered
	}

	// A sign-in's delivery of the third waits for a place; past its deadline it gives up.
	mu.Lock()
	stepping = true
	mu.Unlock()
	err = q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m3"), "x", "m3")
	mu.Lock()
	stepping = false
	m, got := most, append([]string(nil), delivered...)
	mu.Unlock()
	if m > 2 || len(got) > 0 {
		t.Fatalf("DeliverKey sent x's third event while two were in flight: at most %d at once, delivered %v", m, got)
	}
	if err == nil || !strings.Contains(err.Error(), "in progress") {
		t.Fatalf("DeliverKey with x's two places taken = %v, want an error saying its deliveries are in progress", err)
	}
	if ev, err := st.OutboxEvent(ctx, "x-m3"); err != nil || ev.Attempts != 0 || ev.State != store.OutboxPending {
		t.Fatalf("x's third event after DeliverKey gave up = %+v, %v; want pending, never attempted", ev, err)
	}

	// Once a place frees (the hanging requests answer), it goes.
	done := make(chan error, 1)
	go func() { done <- q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m3"), "x", "m3") }()
	close(release)
	released = true
	if err := <-due; err != nil {
		t.Fatal(err)
	}
	due <- nil // for the deferred read
	if err := <-done; err != nil {
		t.Fatalf("DeliverKey once x's deliveries ended: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 2 || len(delivered) != 3 {
		t.Fatalf("x's deliveries: at most %d at once, delivered %v; want at most 2, all three", most, delivered)
	}
}
