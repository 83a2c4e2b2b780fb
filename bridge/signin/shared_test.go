package signin_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// countingCounters counts the calls made on the store's counters.
type countingCounters struct {
	store.CounterStore
	mu    sync.Mutex
	calls int
}

func (c *countingCounters) count() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
}

func (c *countingCounters) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	c.count()
	return c.CounterStore.HitCounter(ctx, h)
}

func (c *countingCounters) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	c.count()
	return c.CounterStore.UndoCounter(ctx, key, now)
}

func (c *countingCounters) NoteCounter(ctx context.Context, key, note string) error {
	c.count()
	return c.CounterStore.NoteCounter(ctx, key, note)
}

func (c *countingCounters) ResetCounter(ctx context.Context, key string) (string, error) {
	c.count()
	return c.CounterStore.ResetCounter(ctx, key)
}

// TestSharedThrottleSameWorkForUnknownLogins: with the counters in the store (each call a round
// trip on PostgreSQL), a wrong password for a login that exists and one for a login that does
// not make the same calls on the counters, attempt after attempt, so response times do not
// tell which logins exist; both are refused at the same attempt.
func TestSharedThrottleSameWorkForUnknownLogins(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	calls := func(login string) []int {
		cc := &countingCounters{CounterStore: st}
		f := newFixture(false)
		// Slowing from the 3rd failure would add delays: the limit is high, the slowing off.
		f.c.Throttle = throttle.NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 100, Window: time.Minute, Lockout: time.Minute},
			cc, []byte("k"), "signin-"+login)
		var out []int
		for range 4 {
			cc.calls = 0
			_, err := f.check(login, "wrong", false)
			out = append(out, cc.calls)
			if err == nil {
				t.Fatalf("%s: signed in with a wrong password", login)
			}
		}
		return out
	}
	known, unknown := calls("alice"), calls("mallory")
	if len(known) != len(unknown) {
		t.Fatal("attempt counts differ")
	}
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("counter calls per wrong password: known login %v, unknown login %v", known, unknown)
		}
	}
}
