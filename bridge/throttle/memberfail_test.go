package throttle

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
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

// TestMemberRetryAfterSucceed: the member's check and a success in one call (one statement on a
// store with counter steps) are MemberRetryAfter and then, unless it refuses, Succeed, on every
// implementation: a success clears the login's counter (and the member it notes) and takes the
// address's reservation back; a member counter at the limit (reached through other logins)
// refuses with the lockout, locks the member for every login and clears nothing; a store that
// is down fails it closed.
func TestMemberRetryAfterSucceed(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		ctx := t.Context()
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 2, Window: time.Minute, Lockout: 5 * time.Minute})
		th.now = func() time.Time { return now }
		reserve := func(login, ip string) Reservation {
			t.Helper()
			r, err := th.Reserve(ctx, login, ip)
			noErr(t, err)
			return r
		}
		succeed := func(login, ip, member string) time.Duration {
			t.Helper()
			w, err := th.MemberRetryAfterSucceed(ctx, login, ip, member)
			noErr(t, err)
			return w
		}
		// The address has room for 2: each success takes its reservation back.
		for i := range 4 {
			if r := reserve("alice", "10.0.0.1"); r.RetryAfter != 0 || r.Member {
				t.Fatalf("attempt %d from the address: %+v", i, r)
			}
			if w := succeed("alice", "10.0.0.1", "K1"); w != 0 {
				t.Fatalf("success %d: refused for %v", i, w)
			}
		}
		// A login noting its member: the success clears both.
		reserve("alice", "10.0.0.2")
		_, err := th.MemberRetryAfterFail(ctx, "alice", "K1")
		noErr(t, err)
		reserve("alice", "10.0.0.3")
		if w := succeed("alice", "10.0.0.3", "K1"); w != 0 {
			t.Fatalf("success of a login noting its member: refused for %v", w)
		}
		if known, err := th.KnowsMember(ctx, "alice"); err != nil || known {
			t.Fatalf("KnowsMember after a success: %v %v", known, err)
		}
		// K1 reaches its limit through three other logins (the success above cleared it).
		for _, login := range []string{"Alice", "alice@example.org", "ALICE"} {
			reserve(login, "10.0.1.1")
			if w, err := th.MemberRetryAfterFail(ctx, login, "K1"); err != nil || w != 0 {
				t.Fatalf("failure of %s: %v %v", login, w, err)
			}
		}
		reserve("alice", "10.0.0.4")
		if w := succeed("alice", "10.0.0.4", "K1"); w != 5*time.Minute {
			t.Fatalf("success with the member at its limit: refused for %v, want the lockout", w)
		}
		if w, err := th.MemberRetryAfter(ctx, "K1"); err != nil || w != 5*time.Minute {
			t.Fatalf("K1 after the refused success: %v %v, want locked", w, err)
		}
		// Nothing was cleared: the address's reservation stands (room for one more, not two).
		reserve("bob", "10.0.0.4")
		if r := reserve("carol", "10.0.0.4"); r.RetryAfter == 0 {
			t.Fatalf("third attempt from an address whose refused success kept its reservation: %+v", r)
		}
	})
	for _, down := range downStores {
		th := NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 3, Window: time.Minute, Lockout: time.Minute}, down.wrap(openSQLite(t)), []byte("k"), "signin")
		if _, err := th.MemberRetryAfterSucceed(t.Context(), "alice", "192.0.2.1", "K1"); !isUnavailable(err) {
			t.Fatalf("%s: MemberRetryAfterSucceed: %v, want ErrUnavailable", down.name, err)
		}
	}
}

// resetDown is a store without counter steps whose ResetCounter fails (the first call of
// Succeed), while every other call works.
type resetDown struct{ store.Store }

func (resetDown) ResetCounter(context.Context, string) (string, error) { return "", errDown }

// TestMemberRetryAfterSucceedUnrecorded: on a store without counter steps, a success that cannot
// be recorded once the member's counter let it through is answered as a failed Succeed is: the
// member is in (no error), the attempt's reservations stay counted, and the failure is logged.
// Before, the two-call fallback refused it as unavailable.
func TestMemberRetryAfterSucceedUnrecorded(t *testing.T) {
	var logged bytes.Buffer
	th := NewShared(config.ThrottleConfig{PerLogin: 3, PerIP: 2, Window: time.Minute, Lockout: time.Minute},
		callsOnly{resetDown{openSQLite(t)}}, []byte("k"), "signin")
	th.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	ctx := t.Context()
	if r, err := th.Reserve(ctx, "alice", "10.0.0.1"); err != nil || r.RetryAfter != 0 {
		t.Fatalf("Reserve: %+v %v", r, err)
	}
	if w, err := th.MemberRetryAfterSucceed(ctx, "alice", "10.0.0.1", "K1"); err != nil || w != 0 {
		t.Fatalf("MemberRetryAfterSucceed with the success unrecorded: %v %v, want the member in", w, err)
	}
	if !strings.Contains(logged.String(), "could not clear a success") || !strings.Contains(logged.String(), errDown.Error()) {
		t.Errorf("log %q, want the unrecorded success and its error", logged.String())
	}
	// The address's reservation stands: room for one more attempt, not two.
	if r, err := th.Reserve(ctx, "bob", "10.0.0.1"); err != nil || r.RetryAfter != 0 {
		t.Fatalf("second attempt from the address: %+v %v", r, err)
	}
	if r, err := th.Reserve(ctx, "carol", "10.0.0.1"); err != nil || r.RetryAfter == 0 {
		t.Fatalf("third attempt from an address whose success was not recorded: %+v %v, want refused", r, err)
	}
}
