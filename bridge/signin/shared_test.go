package signin_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
)

// counterStores are the stores whose counters the shared throttle runs on: SQLite, and
// PostgreSQL (skipped without SSOBRIDGE_TEST_POSTGRES_DSN, failed in CI). Both have the
// counter steps (store.CounterSteps), the path the throttle takes on them.
var counterStores = []struct {
	name string
	open func(t *testing.T) store.CounterStore
}{
	{"sqlite", func(t *testing.T) store.CounterStore {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) store.CounterStore {
		s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// countingCounters counts the calls made on the store's counters: every call (each one
// statement, a round trip on PostgreSQL) and, of those, the steps. It passes the steps on,
// so the throttle takes the store's own path (it uses the steps when the store has them).
type countingCounters struct {
	store.CounterStore
	steps store.CounterSteps
	mu    sync.Mutex
	calls int // every call
	step  int // calls of a step
}

var _ store.CounterSteps = (*countingCounters)(nil)

func newCountingCounters(t *testing.T, s store.CounterStore) *countingCounters {
	steps, ok := s.(store.CounterSteps)
	if !ok {
		t.Fatalf("%T has no counter steps", s)
	}
	return &countingCounters{CounterStore: s, steps: steps}
}

func (c *countingCounters) count(step bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if step {
		c.step++
	}
}

// take returns the calls and step calls counted since the last take.
func (c *countingCounters) take() (calls, steps int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, steps = c.calls, c.step
	c.calls, c.step = 0, 0
	return calls, steps
}

func (c *countingCounters) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	c.count(false)
	return c.CounterStore.HitCounter(ctx, h)
}

func (c *countingCounters) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	c.count(false)
	return c.CounterStore.UndoCounter(ctx, key, now)
}

func (c *countingCounters) NoteCounter(ctx context.Context, key, note string) error {
	c.count(false)
	return c.CounterStore.NoteCounter(ctx, key, note)
}

func (c *countingCounters) ResetCounter(ctx context.Context, key string) (string, error) {
	c.count(false)
	return c.CounterStore.ResetCounter(ctx, key)
}

func (c *countingCounters) ReserveCounters(ctx context.Context, r store.CounterReserve) (store.CounterReserved, error) {
	c.count(true)
	return c.steps.ReserveCounters(ctx, r)
}

func (c *countingCounters) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	c.count(true)
	return c.steps.UndoCounters(ctx, keys, viaNote, now)
}

func (c *countingCounters) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	c.count(true)
	return c.steps.ClearCounters(ctx, key, undo, look, now)
}

func (c *countingCounters) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	c.count(true)
	return c.steps.NoteHitCounter(ctx, key, h, look)
}

// TestSharedThrottleSameWorkForUnknownLogins: with the counters in the store (each call a round
// trip on PostgreSQL), a wrong password for a login that exists and one for a login that does
// not make the same calls on the counters, attempt after attempt, so response times do not
// tell which logins exist; both are refused at the same attempt (the one after the limit).
// On both stores, through their counter steps, each call one statement: the calls per attempt
// and the steps among them are pinned (a first failure 3: the Reserve step, MemberRetryAfter's
// look and the FailMember step; 2 steps once the login notes its member; the refused attempt 2
// steps: Reserve and taking back what it counted), so a store whose steps lose the member's
// note, or a throttle that goes round them (one call per counter), fails here.
func TestSharedThrottleSameWorkForUnknownLogins(t *testing.T) {
	for _, cs := range counterStores {
		t.Run(cs.name, func(t *testing.T) {
			st := cs.open(t)
			const limit = 2 // slowing (from half the limit) adds 500 ms to the second attempt
			calls := func(login string) (calls, steps []int) {
				cc := newCountingCounters(t, st)
				f := newFixture(false)
				f.c.Throttle = throttle.NewShared(config.ThrottleConfig{PerLogin: limit, PerIP: 100, Window: time.Minute, Lockout: time.Minute},
					cc, []byte("k"), "signin-"+login)
				for i := range limit + 1 {
					_, err := f.check(login, "wrong", false)
					c, s := cc.take()
					calls, steps = append(calls, c), append(steps, s)
					var te *signin.ThrottledError
					switch {
					case i < limit && !errors.Is(err, legacy.ErrBadCredentials):
						t.Fatalf("%s attempt %d: %v, want bad credentials", login, i+1, err)
					case i == limit && !errors.As(err, &te):
						t.Fatalf("%s attempt %d (after %d failures): %v, want throttled", login, i+1, limit, err)
					}
				}
				return calls, steps
			}
			known, knownSteps := calls("alice")
			unknown, unknownSteps := calls("mallory")
			if !slices.Equal(known, unknown) || !slices.Equal(knownSteps, unknownSteps) {
				t.Fatalf("counter calls (steps) per wrong password: known login %v (%v), unknown login %v (%v)",
					known, knownSteps, unknown, unknownSteps)
			}
			if want, wantSteps := []int{2, 2, 2}, []int{2, 2, 2}; !slices.Equal(known, want) || !slices.Equal(knownSteps, wantSteps) {
				t.Errorf("counter calls (steps) per wrong password: %v (%v), want %v (%v)", known, knownSteps, want, wantSteps)
			}
		})
	}
}

// TestSharedThrottleSuccessCost: with the counters in the store, a right password costs the
// throttle 2 statements on both stores, each a step: the first sign-in of a login (Reserve,
// then the member's check and the success in one step, MemberRetryAfterSucceed; 3 before it:
// the check was a statement of its own) and a success after a failure (Reserve, which checks
// the member the login notes, and Succeed). Neither weakens the member's counter: a right
// password for a member whose counter other spellings of the login filled is refused as
// after a failure, and the login's reservation then stands.
func TestSharedThrottleSuccessCost(t *testing.T) {
	for _, cs := range counterStores {
		t.Run(cs.name, func(t *testing.T) {
			cc := newCountingCounters(t, cs.open(t))
			f := newFixture(false)
			f.c.Directory = spellings{f.dir}
			f.c.Throttle = throttle.NewShared(config.ThrottleConfig{PerLogin: 2, PerIP: 100, Window: time.Minute, Lockout: time.Minute},
				cc, []byte("k"), "signin")
			attempt := func(login, password string, wantErr bool, wantCalls int) error {
				t.Helper()
				_, err := f.check(login, password, true)
				if (err != nil) != wantErr {
					t.Fatalf("%s/%s: %v", login, password, err)
				}
				if calls, steps := cc.take(); calls != wantCalls || steps != wantCalls {
					t.Errorf("%s/%s: %d counter calls (%d steps), want %d (all steps)", login, password, calls, steps, wantCalls)
				}
				return err
			}
			attempt("alice", "right", false, 2) // first sign-in
			attempt("alice", "wrong", true, 2)
			attempt("alice", "right", false, 2) // the login noted its member
			attempt("alice", "right", false, 2) // cleared: a first sign-in again
			// "Alice" fails twice: the member's counter (K1) is at its limit of 2.
			attempt("Alice", "wrong", true, 2)
			attempt("Alice", "wrong", true, 2)
			err := attempt("al-ice", "right", true, 3) // the member check refuses; the failure
			var te *signin.ThrottledError
			if !errors.As(err, &te) || !te.AfterFailure {
				t.Fatalf("right password with the member's counter full: %v, want throttled after the failure", err)
			}
		})
	}
}
