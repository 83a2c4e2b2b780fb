package outbox_test

// Review s23 X-1 (goes in bridge/outbox). Fails on main at ffffe11 (f02a689).

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

// TestReviewX1DeliverKeyWithNothingToSendDoesNotWaitForAPlace: provisioning.Service.Provision
// calls DeliverKey at every sign-in at a sync app, whether or not the member's shadow user
// changed. A member with nothing pending has nothing to send, so the app's two deliveries in
// flight (other members', a target that is slow or hangs, a backlog the workers keep at the
// limit) must not make the sign-in wait for a place and then fail with ErrProvisioning. Before
// f02a689 DeliverKey found nothing to claim and returned nil at once; since, claimKey answers
// "full" before looking at the key, and DeliverKey waits out shadow.timeout + 5 s and fails.
func TestReviewX1DeliverKeyWithNothingToSendDoesNotWaitForAPlace(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	var (
		mu       sync.Mutex
		now      = time.Now().UTC().Truncate(time.Second)
		stepping bool // each reading of the clock moves it on an hour: any wait is past its deadline
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
		entered <- e.Subject
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Now: clock, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": hang}})
	for i := 1; i <= 2; i++ {
		s := fmt.Sprintf("m%d", i)
		if err := st.Enqueue(ctx, &store.OutboxEvent{ID: "x-" + s, Key: outbox.Key("backchannel", "x", s), Channel: "backchannel",
			ClientID: "x", Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: now}); err != nil {
			t.Fatal(err)
		}
	}
	due := make(chan error, 1)
	go func() { _, err := q.DeliverDue(ctx); due <- err }()
	defer func() { close(release); <-due }()
	for range 2 {
		<-entered
	}
	mu.Lock()
	stepping = true
	mu.Unlock()
	// m9 has nothing pending at x (its shadow user is up to date): nothing to send, nothing to wait for.
	if err := q.DeliverKey(ctx, outbox.Key("backchannel", "x", "m9"), "x", "m9"); err != nil {
		t.Fatalf("DeliverKey for a member with nothing pending, while x has two deliveries in flight = %v; want nil (nothing to send)", err)
	}
}
