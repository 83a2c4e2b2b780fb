package throttle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
)

// impls are the throttle's implementations: in memory, and on the store's counters (SQLite,
// and PostgreSQL when SSOBRIDGE_TEST_POSTGRES_DSN is set), with the stores' steps
// (store.CounterSteps) and, on SQLite, also without them (one call per counter, as on a store
// that has none). Every throttle test runs on each.
var impls = []struct {
	name string
	open func(t *testing.T) store.CounterStore // nil: in memory
}{
	{"memory", nil},
	{"sqlite", func(t *testing.T) store.CounterStore { return openSQLite(t) }},
	{"sqlite-calls", func(t *testing.T) store.CounterStore { return callsOnly{openSQLite(t)} }},
	{"postgres", func(t *testing.T) store.CounterStore {
		s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// eachImpl runs fn with a constructor of throttles (and limiters) of each implementation.
func eachImpl(t *testing.T, fn func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, newLimiter func(int) *Limiter)) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			if impl.open == nil {
				fn(t, New, NewLimiter)
				return
			}
			st := impl.open(t)
			secret := []byte("test secret")
			fn(t, func(cfg config.ThrottleConfig) *Throttle { return NewShared(cfg, st, secret, "test") },
				func(n int) *Limiter { return NewSharedLimiter(n, st, secret) })
		})
	}
}

func TestThrottle(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 4, PerIP: 10, Window: time.Minute, Lockout: 5 * time.Minute})
		th.now = func() time.Time { return now }
		ctx := t.Context()
		check := func(login, ip string) (time.Duration, time.Duration) {
			t.Helper()
			d, r, err := th.Check(ctx, login, ip)
			if err != nil {
				t.Fatal(err)
			}
			return d, r
		}
		fail := func(login, ip string) time.Duration { _, r := check(login, ip); return r }
		if d, r := check("alice", "1.2.3.4"); d != 0 || r != 0 {
			t.Fatalf("fresh: %v %v", d, r)
		}
		fail("Alice ", "1.2.3.4") // the same login, spelled differently
		if d, r := check("alice", "1.2.3.4"); d == 0 || r != 0 {
			t.Fatalf("after 2 of 4 attempts want slowing, got %v %v", d, r)
		}
		fail("alice", "5.6.7.8")
		if r := fail("alice", "8.8.8.8"); r <= 0 {
			t.Fatal("login not refused after 4 failed attempts from several IPs")
		}
		if _, r := check("bob", "1.2.3.4"); r != 0 {
			t.Fatal("another login refused")
		}
		now = now.Add(6 * time.Minute)
		if _, r := check("alice", "1.2.3.4"); r != 0 {
			t.Fatal("still refused after the lockout")
		}
		// A verified attempt is taken back; one the AMS could not verify too.
		for range 10 {
			check("carol", "9.9.9.9")
			noErr(t, th.Succeed(ctx, "carol", "9.9.9.9"))
		}
		if _, r := check("carol", "9.9.9.9"); r != 0 {
			t.Fatal("successes counted as failures")
		}
		for range 10 {
			check("dan", "7.7.7.7")
			noErr(t, th.Release(ctx, "dan", "7.7.7.7"))
		}
		if _, r := check("dan", "7.7.7.7"); r != 0 {
			t.Fatal("unverifiable attempts counted as failures")
		}
		// Per IP: many logins from one address.
		for i := range 10 {
			fail("user"+string(rune('a'+i)), "6.6.6.6")
		}
		if _, r := check("someone-new", "6.6.6.6"); r <= 0 {
			t.Fatal("IP not refused after 10 failures")
		}
	})
}

// TestThrottleMember: a login's failures that resolved to a member count for the member, so
// another login of the same member meets the member's limit; a success clears both.
func TestThrottleMember(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		ctx := t.Context()
		th := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 100, Window: time.Minute, Lockout: time.Minute})
		for i := range 3 {
			_, r, err := th.Check(ctx, "alice", "10.0.0.1")
			noErr(t, err)
			if r > 0 {
				t.Fatalf("attempt %d refused", i+1)
			}
			if i == 0 {
				if w, err := th.MemberRetryAfter(ctx, "K1"); err != nil || w != 0 {
					t.Fatalf("member before failures: %v %v", w, err)
				}
			}
			noErr(t, th.FailMember(ctx, "alice", "K1"))
		}
		if known, err := th.KnowsMember(ctx, "ALICE"); err != nil || !known {
			t.Fatalf("KnowsMember: %v %v", known, err)
		}
		if known, _ := th.KnowsMember(ctx, "alice@example.org"); known {
			t.Fatal("KnowsMember of another login")
		}
		// Another login of K1: its own counter is fresh, the member's is full.
		if w, err := th.MemberRetryAfter(ctx, "K1"); err != nil || w <= 0 {
			t.Fatalf("member after 3 failures: %v %v, want refused", w, err)
		}
		if w, _ := th.MemberRetryAfter(ctx, "K2"); w != 0 {
			t.Fatal("another member refused")
		}
	})
}

// TestThrottleParallelAttempts: attempts in flight count before they are verified, so parallel
// guesses cannot all pass the check.
func TestThrottleParallelAttempts(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		th := newThrottle(config.ThrottleConfig{PerLogin: 5, PerIP: 1000, Window: time.Minute, Lockout: time.Minute})
		var passed atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, r, err := th.Check(context.Background(), "alice", fmt.Sprint("10.0.0.", i))
				if err != nil {
					t.Error(err)
				} else if r == 0 {
					passed.Add(1)
				}
			}()
		}
		wg.Wait()
		if passed.Load() != 5 {
			t.Fatalf("%d of 40 parallel attempts passed, want 5", passed.Load())
		}
	})
}

// TestSharedThrottleKeysHashed: the store holds neither the typed login nor the address, through
// the store's counter steps and through its calls.
func TestSharedThrottleKeysHashed(t *testing.T) {
	for _, steps := range []bool{true, false} {
		t.Run(fmt.Sprint("steps=", steps), func(t *testing.T) {
			rec := newRecordingCounters(openSQLite(t))
			var counters store.CounterStore = rec
			if !steps {
				counters = callsOnly{rec}
			}
			th := NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 3, Window: time.Minute, Lockout: time.Minute}, counters, []byte("k"), "signin")
			ctx := t.Context()
			for _, login := range []string{"Alice.Secret@example.org", "Alice.Secret"} {
				_, _, err := th.Check(ctx, login, "192.0.2.77")
				noErr(t, err)
				_, err = th.MemberRetryAfterFail(ctx, login, "K1")
				noErr(t, err)
			}
			_, _, err := th.Check(ctx, "Alice.Secret@example.org", "192.0.2.77") // notes K1
			noErr(t, err)
			noErr(t, th.FailMember(ctx, "Alice.Secret@example.org", "K1"))
			_, _, err = th.Check(ctx, "Alice.Secret", "192.0.2.77")
			noErr(t, err)
			noErr(t, th.Release(ctx, "Alice.Secret", "192.0.2.77"))
			_, _, err = th.Check(ctx, "Alice.Secret", "192.0.2.77")
			noErr(t, err)
			noErr(t, th.Succeed(ctx, "Alice.Secret", "192.0.2.77"))
			if len(rec.keys) == 0 {
				t.Fatal("no counter written")
			}
			for _, k := range rec.keys {
				for _, clear := range []string{"alice", "Alice", "192.0.2", "K1"} {
					if containsFold(k, clear) {
						t.Fatalf("counter key %q holds %q", k, clear)
					}
				}
			}
		})
	}
}

// TestSharedThrottleFailsClosed: when the counters cannot be written, every check is refused
// with ErrUnavailable, never let through, with the store's counter steps and without.
func TestSharedThrottleFailsClosed(t *testing.T) {
	for _, down := range downStores {
		t.Run(down.name, func(t *testing.T) {
			counters := down.wrap(openSQLite(t))
			th := NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 3, Window: time.Minute, Lockout: time.Minute}, counters, []byte("k"), "signin")
			if _, _, err := th.Check(t.Context(), "alice", "192.0.2.1"); !isUnavailable(err) {
				t.Fatalf("Check: %v, want ErrUnavailable", err)
			}
			if _, err := th.MemberRetryAfter(t.Context(), "K1"); !isUnavailable(err) {
				t.Fatalf("MemberRetryAfter: %v, want ErrUnavailable", err)
			}
			if err := th.Succeed(t.Context(), "alice", "192.0.2.1"); !isUnavailable(err) {
				t.Fatalf("Succeed: %v, want ErrUnavailable", err)
			}
			l := NewSharedLimiter(3, counters, []byte("k"))
			if ok, _, err := l.Allow(t.Context(), "x"); ok || !isUnavailable(err) {
				t.Fatalf("Allow: %v %v, want refused with ErrUnavailable", ok, err)
			}
		})
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestThrottleMemberReservations: once a login notes its member, each check reserves an attempt
// on the member's counter too; a release takes that back with the login's and the address's,
// a success clears the login's and the member's counters and takes the address's back, and a
// refused check reserves nothing on the counters that did not refuse.
func TestThrottleMemberReservations(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 100, Window: time.Minute, Lockout: time.Minute})
		th.now = func() time.Time { return now }
		reserve := func(login, ip string) Reservation {
			t.Helper()
			r, err := th.Reserve(ctx, login, ip)
			noErr(t, err)
			return r
		}
		memberWait := func(m string) time.Duration {
			t.Helper()
			w, err := th.MemberRetryAfter(ctx, m)
			noErr(t, err)
			return w
		}
		if r := reserve("alice", "10.0.0.1"); r.Member || r.RetryAfter != 0 {
			t.Fatalf("first attempt: %+v", r)
		}
		noErr(t, th.FailMember(ctx, "alice", "K1")) // K1: 1 failure; alice notes K1
		for i := range 5 {
			if r := reserve("alice", "10.0.0.1"); !r.Member || r.RetryAfter != 0 {
				t.Fatalf("attempt %d after the member is known: %+v, want the member checked, not refused", i, r)
			}
			noErr(t, th.Release(ctx, "alice", "10.0.0.1"))
		}
		if w := memberWait("K1"); w != 0 {
			t.Fatalf("member after 1 failure and 5 released attempts: refused for %v (the releases left it reserved)", w)
		}
		// Fails again through another login: K1 reaches 3 of 3 only now.
		reserve("alice@example.org", "10.0.0.2")
		noErr(t, th.FailMember(ctx, "alice@example.org", "K1"))
		if w := memberWait("K1"); w != 0 {
			t.Fatalf("member after 2 failures: refused for %v", w)
		}
		// A success clears alice and K1.
		reserve("alice", "10.0.0.1")
		noErr(t, th.Succeed(ctx, "alice", "10.0.0.1"))
		if known, err := th.KnowsMember(ctx, "alice"); err != nil || known {
			t.Fatalf("KnowsMember after a success: %v %v", known, err)
		}
		reserve("alice@example.org", "10.0.0.2")
		noErr(t, th.FailMember(ctx, "alice@example.org", "K1"))
		reserve("alice@example.org", "10.0.0.2")
		noErr(t, th.FailMember(ctx, "alice@example.org", "K1")) // noted already: counted by the check
		if w := memberWait("K1"); w != 0 {
			t.Fatalf("member after a success and 2 failures: refused for %v (the success did not clear it)", w)
		}

		// A refused check reserves nothing: bob's login is full, his address has room for one.
		th2 := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 4, Window: time.Minute, Lockout: time.Minute})
		th2.now = th.now
		for range 3 {
			if _, r, err := th2.Check(ctx, "bob", "10.0.0.9"); err != nil || r != 0 {
				t.Fatalf("bob's attempt: %v %v", r, err)
			}
		}
		if _, r, err := th2.Check(ctx, "bob", "10.0.0.9"); err != nil || r == 0 {
			t.Fatalf("bob's 4th attempt: %v %v, want refused", r, err)
		}
		if _, r, err := th2.Check(ctx, "carol", "10.0.0.9"); err != nil || r != 0 {
			t.Fatalf("carol from bob's address: %v %v, want let through (the refused attempt reserved the address)", r, err)
		}
		if _, r, err := th2.Check(ctx, "dave", "10.0.0.9"); err != nil || r == 0 {
			t.Fatalf("dave from the full address: %v %v, want refused", r, err)
		}
	})
}
