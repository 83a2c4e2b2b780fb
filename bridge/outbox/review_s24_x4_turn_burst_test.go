package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// Review s24 X-4 (Medium, e54b6b4): a place a sign-in frees while another sign-in waits is
// the queue's "turn" (deliverClaimed), and nobody at the app may take it until Run's next claim
// has looked or turnFor (1 s) has passed; the waiters are woken only by that claim (or their own
// re-check, 250 ms doubling to 2 s). When Run has no free worker (four other apps with slow but
// successful deliveries and a backlog: TestXTurnBurstWhileRunBusy; or no Run claiming at all:
// TestXTurnBurstWhileWorkersBusy), every hand-off between two sign-ins of a healthy app costs
// about a second: 30 sign-ins at once at an app answering in 20 ms took 15 s and 6 of them failed
// at DeliverKey's deadline ("the app's earlier deliveries are still in progress"); with the turn
// disabled the same 30 took 0.37 s, none failed.
// Package: bridge/outbox (outbox_test). Run (about 20 s on main):
//
//	go test ./bridge/outbox/ -run 'TestXTurnBurst' -count=1 -v
func TestXTurnBurstWhileWorkersBusy(t *testing.T) { xBurst(t, false) }

// With Run running, its four workers busy with other apps' slow but successful deliveries
// (3 s each, a backlog of each).
func TestXTurnBurstWhileRunBusy(t *testing.T) { xBurst(t, true) }

func xBurst(t *testing.T, run bool) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hang := make(chan struct{})
	entered := make(chan string, 16)
	d := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
		if e.ClientID != "c" {
			if run {
				select {
				case entered <- e.Subject:
				default:
				}
				time.Sleep(3 * time.Second)
				return nil
			}
			entered <- e.Subject
			<-hang
			return nil
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	now := time.Now()
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: db, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": d}})
	enq := func(client, s string, at time.Time) {
		if err := db.Enqueue(ctx, &store.OutboxEvent{ID: client + "-" + s, Key: outbox.Key("backchannel", client, s), Channel: "backchannel",
			ClientID: client, Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: at}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"a", "b", "d", "e"} {
		for i := range 10 {
			enq(c, fmt.Sprint(i), now.Add(-time.Minute))
		}
	}
	due := make(chan int, 1)
	rctx, stop := context.WithCancel(ctx)
	if run {
		go func() { q.Run(rctx); due <- 0 }()
		for range 4 {
			<-entered
		}
	} else {
		go func() { n, _ := q.DeliverDue(ctx); due <- n }()
	}
	for range 3 * (map[bool]int{false: 1, true: 0})[run] { // a1, b1, d1 (one each first), then a2 or b2... whatever DeliverDue claims: no Run here
		<-entered
	}
	const burst = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	start := time.Now()
	for i := range burst {
		s := fmt.Sprint("s", i)
		enq("c", s, now.Add(time.Hour))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.DeliverKey(ctx, outbox.Key("backchannel", "c", s), "c", s); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d sign-ins at c with the 4 workers busy elsewhere: %v", burst, time.Since(start))
	if len(errs) > 0 {
		t.Errorf("%d of %d sign-ins at a healthy app (20 ms a delivery, 2 places) failed: %s", len(errs), burst, errs[0])
	}
	close(hang)
	stop()
	<-due
}
