package outbox_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSlowAppsDoNotHoldTheOutbox (review s15 X-5): three slow apps (targets that never answer)
// whose events come first in the outbox must not take every worker: another app's back-channel
// logout, queued behind theirs or while they hang, goes out at once. Before, the queue claimed in
// queue order two of the first slow app's, then two of the second's: the four workers hung a
// whole request timeout (shadow.timeout) while the logout waited. Now the store's claim prefers
// the clients with nothing in flight (one worker each) and the queue keeps its last free worker
// for them.
func TestSlowAppsDoNotHoldTheOutbox(t *testing.T) {
	for _, tc := range []struct {
		name  string
		later bool // the logout is queued once the slow apps' deliveries hang
	}{{"queued behind them", false}, {"queued while they hang", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st, err := sqlite.Open(ctx, sqlite.Memory)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			release, hanging := make(chan struct{}), make(chan string, 16)
			slow := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
				hanging <- e.ClientID
				select { // an answer that never comes: until the request's timeout, or the test's end
				case <-release:
				case <-ctx.Done():
				}
				return outbox.Retry("no answer")
			})
			logoutDone := make(chan struct{})
			bank := outbox.DeliverFunc(func(context.Context, *store.OutboxEvent) error { close(logoutDone); return nil })
			cfg := outbox.Defaults()
			slowApps := []string{"slowa", "slowb", "slowc"}
			q := outbox.New(outbox.Options{Config: cfg, Store: st,
				Channels: map[string]outbox.Deliverer{"backchannel": outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
					if e.ClientID == "bank" {
						return bank(ctx, e)
					}
					return slow(ctx, e)
				})}})
			for _, app := range slowApps {
				for i := range 4 {
					s := fmt.Sprintf("member-%d", i)
					if err := st.Enqueue(ctx, &store.OutboxEvent{ID: app + s, Key: outbox.Key("backchannel", app, s), Channel: "backchannel",
						ClientID: app, Subject: s, Type: "logout", Payload: []byte("{}")}); err != nil {
						t.Fatal(err)
					}
				}
			}
			logout := &store.OutboxEvent{ID: "bank-logout", Key: outbox.Key("backchannel", "bank", "m"), Channel: "backchannel",
				ClientID: "bank", Subject: "m", Type: "logout", Payload: []byte("{}")}
			if !tc.later {
				if err := st.Enqueue(ctx, logout); err != nil {
					t.Fatal(err)
				}
			}
			ran := make(chan struct{})
			go func() { defer close(ran); q.Run(ctx) }()
			defer func() { <-ran }() // Run records the hanging deliveries' outcomes before the store closes
			defer cancel()
			defer close(release)
			if tc.later {
				for range len(slowApps) {
					<-hanging
				}
				if err := st.Enqueue(ctx, logout); err != nil {
					t.Fatal(err)
				}
				q.Wake()
			}
			select {
			case <-logoutDone:
			case <-time.After(5 * time.Second): // far below shadow.timeout's default; not a performance bound
				t.Fatalf("another app's back-channel logout waited behind three slow apps' hanging deliveries (shadow.timeout %v)", cfg.Timeout)
			}
		})
	}
}

// TestManySlowAppsLeaveAWorkerFree: with more slow apps than workers (five targets that never
// answer), once their first deliveries have failed the last free worker is not theirs, and
// another app's back-channel logout queued behind their events goes out. Before, the fourth slow
// app took the last worker (it had nothing in flight), and each worker that came free took the
// next of their events, queued before the logout (their apps idle again): the logout waited as
// long as they had events due, request timeout after request timeout. The deliveries here fail
// when the test says, not after a timeout: first one, which frees the last worker (taken by the
// fifth slow app, unknown yet), then a second, which frees it again: the logout's. Each failure
// moves the queue's clock on by shadow.timeout first: it took that long (a failure answered at
// once is not slowness).
func TestManySlowAppsLeaveAWorkerFree(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	type hang struct {
		client string
		fail   chan struct{}
	}
	hanging, logoutDone, release := make(chan hang, 32), make(chan struct{}), make(chan struct{})
	cfg := outbox.Defaults()
	var waited atomic.Int64 // the time the failed deliveries took, on the queue's clock
	now := func() time.Time { return time.Now().Add(time.Duration(waited.Load())) }
	q := outbox.New(outbox.Options{Config: cfg, Store: st, Now: now,
		Channels: map[string]outbox.Deliverer{"backchannel": outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
			if e.ClientID == "bank" {
				close(logoutDone)
				return nil
			}
			h := hang{e.ClientID, make(chan struct{})}
			hanging <- h
			select { // no answer until the test fails it (its timeout), or the test's end
			case <-h.fail:
				waited.Add(int64(cfg.Timeout))
			case <-release:
			case <-ctx.Done():
			}
			return outbox.Retry("no answer")
		})}})
	for _, app := range []string{"slowa", "slowb", "slowc", "slowd", "slowe"} {
		for i := range 4 {
			s := fmt.Sprintf("member-%d", i)
			if err := st.Enqueue(ctx, &store.OutboxEvent{ID: app + s, Key: outbox.Key("backchannel", app, s), Channel: "backchannel",
				ClientID: app, Subject: s, Type: "logout", Payload: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "bank-logout", Key: outbox.Key("backchannel", "bank", "m"), Channel: "backchannel",
		ClientID: "bank", Subject: "m", Type: "logout", Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); q.Run(ctx) }()
	defer func() { <-ran }() // Run records the hanging deliveries' outcomes before the store closes
	defer cancel()
	defer close(release)

	next := func() hang {
		t.Helper()
		select {
		case h := <-hanging:
			return h
		case <-logoutDone:
			t.Fatal("the logout went out before the slow apps held the workers") // not this test's case
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery started")
		}
		return hang{}
	}
	var held []hang
	for range 4 { // slowa, slowb, slowc and, with the last worker, slowd
		held = append(held, next())
	}
	close(held[0].fail) // slowa's times out: the last worker comes free; slowe's is queued first
	if h := next(); h.client != "slowe" {
		t.Fatalf("the freed worker went to %s, want slowe (the only app with nothing in flight and no failure)", h.client)
	}
	close(held[1].fail) // slowb's times out: the last worker comes free again
	select {
	case <-logoutDone:
	case h := <-hanging:
		t.Fatalf("the last free worker went to %s, a slow app, while another app's logout waited", h.client)
	case <-time.After(5 * time.Second): // not a performance bound: the logout waits forever without the fix
		t.Fatal("another app's logout waited behind five slow apps")
	}
}
