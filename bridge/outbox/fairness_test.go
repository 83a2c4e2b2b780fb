package outbox_test

import (
	"context"
	"fmt"
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
