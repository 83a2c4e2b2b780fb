package throttle

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestMemberRetryAfterFail: the member's check and a failure in one call (one statement on a
// store with counter steps) are MemberRetryAfter and then FailMember, on every implementation:
// each login that fails counts once for the member (a login noting it already not again), the
// failure that finds the member at the limit is refused (and locks it for every login), the
// login notes its member for its next check, and a store that is down fails it closed.
func TestMemberRetryAfterFail(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 100, Window: time.Minute, Lockout: 5 * time.Minute})
		th.now = func() time.Time { return now }
		fail := func(login, member string) time.Duration {
			t.Helper()
			if _, err := th.Reserve(ctx, login, "10.0.0.1"); err != nil {
				t.Fatal(err)
			}
			w, err := th.MemberRetryAfterFail(ctx, login, member)
			noErr(t, err)
			return w
		}
		if w := fail("alice", "K1"); w != 0 {
			t.Fatalf("first failure: refused for %v", w)
		}
		if known, err := th.KnowsMember(ctx, "alice"); err != nil || !known {
			t.Fatalf("KnowsMember after a failure: %v %v", known, err)
		}
		// alice notes K1: her next failure counts for K1 through her check, not again here.
		if w := fail("alice", "K1"); w != 0 {
			t.Fatalf("second failure of a login: refused for %v", w)
		}
		if w, err := th.MemberRetryAfter(ctx, "K1"); err != nil || w != 0 {
			t.Fatalf("K1 after 2 failures: %v %v", w, err)
		}
		// A third login's failure finds 2 of 3: counted (3), not refused; the fourth finds the
		// limit and is refused, and locks K1.
		if w := fail("Alice@example.org", "K1"); w != 0 {
			t.Fatalf("third failure: refused for %v", w)
		}
		if w := fail("alice.other", "K1"); w != 5*time.Minute {
			t.Fatalf("failure at the member's limit: refused for %v, want the lockout", w)
		}
		if w, err := th.MemberRetryAfter(ctx, "K1"); err != nil || w != 5*time.Minute {
			t.Fatalf("K1 after its lock: %v %v", w, err)
		}
		if w, err := th.MemberRetryAfter(ctx, "K2"); err != nil || w != 0 {
			t.Fatalf("another member: %v %v", w, err)
		}
		now = now.Add(6 * time.Minute) // the lock ends
		if w := fail("bob", "K1"); w != 0 {
			t.Fatalf("after the lock: refused for %v", w)
		}
	})
	for _, down := range downStores {
		th := NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 3, Window: time.Minute, Lockout: time.Minute}, down.wrap(openSQLite(t)), []byte("k"), "signin")
		if _, err := th.MemberRetryAfterFail(t.Context(), "alice", "K1"); !isUnavailable(err) {
			t.Fatalf("%s: MemberRetryAfterFail: %v, want ErrUnavailable", down.name, err)
		}
	}
}
