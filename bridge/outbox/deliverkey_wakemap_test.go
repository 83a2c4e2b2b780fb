package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestDeliverKeyWakeChannelsGoAway (O6 leftover, session 25): the wake-up channel a sign-in
// takes for its app in DeliverKey is dropped once the last sign-in holding it leaves, however
// it leaves: its event delivered, nothing to send, its event delivered by another replica, its
// request gone while it waited for a place (the app's deliveries still hanging), and many
// sign-ins at a few apps at once, woken by each other's ends. Before, every DeliverKey left an
// entry for its app until the app's next delivery here ended (a look before each return took
// it), for ever at an app removed: the map grew with every app that ever had a sign-in.
func TestDeliverKeyWakeChannelsGoAway(t *testing.T) {
	type env struct {
		db   *sqlite.Store
		q    *outbox.Queue
		hang chan struct{} // closed by the case: deliveries of subjects starting "hang" return
	}
	newEnv := func(t *testing.T) *env {
		t.Helper()
		db, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		e := &env{db: db, hang: make(chan struct{})}
		d := outbox.DeliverFunc(func(ctx context.Context, ev *store.OutboxEvent) error {
			if len(ev.Subject) >= 4 && ev.Subject[:4] == "hang" {
				<-e.hang
			}
			return nil
		})
		e.q = outbox.New(outbox.Options{Config: outbox.Defaults(), Store: db, Logger: slog.New(slog.DiscardHandler),
			Channels: map[string]outbox.Deliverer{"backchannel": d}})
		e.q.SetRecheck(5*time.Millisecond, 10*time.Millisecond)
		return e
	}
	enqueue := func(t *testing.T, e *env, client, subject string) string {
		t.Helper()
		key := outbox.Key("backchannel", client, subject)
		if err := e.db.Enqueue(t.Context(), &store.OutboxEvent{ID: client + "-" + subject, Key: key, Channel: "backchannel",
			ClientID: client, Subject: subject, Type: "logout", Payload: []byte("{}"), NextAttempt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"its event delivered", func(t *testing.T, e *env) {
			key := enqueue(t, e, "x", "m1")
			if err := e.q.DeliverKey(t.Context(), key, "x", "m1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"nothing to send", func(t *testing.T, e *env) {
			for _, c := range []string{"x", "y", "z"} {
				if err := e.q.DeliverKey(t.Context(), outbox.Key("backchannel", c, "m1"), c, "m1"); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"delivered by another replica", func(t *testing.T, e *env) {
			key := enqueue(t, e, "x", "m1")
			evs, err := e.db.ClaimEvents(t.Context(), store.Claim{Now: time.Now(), Lease: time.Minute, Limit: 1, Key: key})
			if err != nil || len(evs) != 1 {
				t.Fatalf("the other replica's claim = %v, %v", evs, err)
			}
			done := make(chan error, 1)
			go func() { done <- e.q.DeliverKey(t.Context(), key, "x", "m1") }()
			waitFor(t, "the sign-in waits for its event", func() bool { return e.q.WakeChannels() == 1 })
			if err := e.db.MarkDelivered(t.Context(), evs[0].ID, evs[0].LeaseUntil, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}},
		{"request gone while waiting for a place", func(t *testing.T, e *env) {
			enqueue(t, e, "x", "hang1")
			enqueue(t, e, "x", "hang2")
			key := enqueue(t, e, "x", "m1")
			due := make(chan error, 1)
			go func() { _, err := e.q.DeliverDue(t.Context()); due <- err }()
			defer func() {
				close(e.hang)
				if err := <-due; err != nil {
					t.Error(err)
				}
			}()
			waitFor(t, "x's two places taken", func() bool { return e.q.InFlight("x") == 2 })
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- e.q.DeliverKey(ctx, key, "x", "m1") }()
			waitFor(t, "the sign-in waits for a place", func() bool { return e.q.Waiting("x") == 1 })
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("DeliverKey after its request ended = %v, want context.Canceled", err)
			}
			if n := e.q.WakeChannels(); n != 0 { // x's deliveries still hang: no end came
				t.Errorf("%d wake-up channels with no sign-in left and x's deliveries still in flight; want 0", n)
			}
		}},
		{"many sign-ins at once", func(t *testing.T, e *env) {
			var keys []string
			for i := range 30 {
				c := fmt.Sprintf("app%d", i%3)
				keys = append(keys, enqueue(t, e, c, fmt.Sprintf("m%d", i)))
			}
			due := make(chan error, 1)
			go func() { _, err := e.q.DeliverDue(t.Context()); due <- err }()
			var wg sync.WaitGroup
			errs := make(chan error, len(keys))
			for i, key := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := fmt.Sprintf("app%d", i%3)
					errs <- e.q.DeliverKey(t.Context(), key, c, fmt.Sprintf("m%d", i))
				}()
			}
			wg.Wait()
			if err := <-due; err != nil {
				t.Fatal(err)
			}
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.run(t, e)
			if n := e.q.WakeChannels(); n != 0 {
				t.Errorf("%d wake-up channels left after every sign-in returned; want 0", n)
			}
		})
	}
}
