package outbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// lockedBuffer is a log sink for deliveries running on other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOutcomeOfRemovedClientsEvent (session 17): an app removed while one of its events is in
// flight takes the event with it (the store's DeleteClient); the delivery's outcome then finds no
// event, which is said once at info level, not as a store failure at error level.
func TestOutcomeOfRemovedClientsEvent(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "delivered", true: "failed"}[fail], func(t *testing.T) {
			ctx := t.Context()
			st, err := sqlite.Open(ctx, sqlite.Memory)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.CreateClient(ctx, &sso.StoredClient{ID: "notes", Config: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			removeWhileSending := outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
				if err := st.DeleteClient(ctx, e.ClientID); err != nil {
					t.Error(err)
				}
				if fail {
					return outbox.Retry("503")
				}
				return nil
			})
			var logs lockedBuffer
			seen := &outcomes{}
			q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Targets: map[string]outbox.Route{"notes": {Kind: "scim", Deliverer: removeWhileSending}}, Observer: seen})
			if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "e1", Key: outbox.Key("scim", "notes", "m"), Channel: "scim",
				ClientID: "notes", Subject: "m", Type: "user.updated", Payload: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			if n, err := q.DeliverDue(ctx); err != nil || n != 1 {
				t.Fatalf("DeliverDue = %d, %v", n, err)
			}
			if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "removed") {
				t.Fatalf("logs:\n%s\nwant the removed app said at info level, no error", out)
			}
			// Said as every delivery is (final read s17 R2-7): the member and the attempt; a
			// delivery that happened is counted.
			if out := logs.String(); !strings.Contains(out, "subject=m") || !strings.Contains(out, "attempt=1") {
				t.Fatalf("logs:\n%s\nwant the subject and the attempt", out)
			}
			if want := map[bool]string{false: "scim/notes/" + outbox.OutcomeDelivered, true: ""}[fail]; seen.String() != want {
				t.Fatalf("observed %q, want %q", seen.String(), want)
			}
		})
	}
}

// outcomes records the delivery outcomes a queue reports (outbox.DeliveryObserver).
type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) Delivery(channel, client, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, channel+"/"+client+"/"+outcome)
}

func (o *outcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.got, ",")
}
