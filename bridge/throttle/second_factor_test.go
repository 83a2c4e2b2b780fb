package throttle

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestSecondFactorIPCounterApart: wrong second-factor codes (SecondFactorLogin) count against
// a client-IP counter of their own, not the IP's password counter: members mistyping codes
// behind one address do not lock the password sign-ins of everyone there (review s13, noticed),
// and the second-factor guesses from that address are still refused after throttle.per_ip;
// password failures do not lock the address's second factors either. Each member's own
// second-factor counter (per_login) still holds.
func TestSecondFactorIPCounterApart(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 3, PerIP: 6, Window: time.Minute, Lockout: 5 * time.Minute})
		th.now = func() time.Time { return now }
		ctx := t.Context()
		retry := func(login, ip string) time.Duration {
			t.Helper()
			_, r, err := th.Check(ctx, login, ip)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		const office = "203.0.113.7"
		// Six members behind the office's address each mistype a code once: the address's
		// second-factor counter is full.
		for i := range 6 {
			if r := retry(SecondFactorLogin("member-"+string(rune('a'+i))), office); r != 0 {
				t.Fatalf("second-factor attempt %d refused early: %v", i+1, r)
			}
		}
		if r := retry(SecondFactorLogin("member-z"), office); r <= 0 {
			t.Fatal("second-factor guesses from one address not refused after throttle.per_ip")
		}
		// ... and the password sign-ins from the same address go on.
		if r := retry("carol", office); r != 0 {
			t.Fatalf("a password attempt from the address refused after wrong second-factor codes: %v", r)
		}
		noErr(t, th.Succeed(ctx, "carol", office))
		// One member's own second-factor counter (per_login), from several addresses.
		for i := range 3 {
			if r := retry(SecondFactorLogin("dave"), "198.51.100."+string(rune('1'+i))); r != 0 {
				t.Fatalf("dave's code %d refused early", i+1)
			}
		}
		if r := retry(SecondFactorLogin("dave"), "198.51.100.9"); r <= 0 {
			t.Fatal("a member's second-factor guesses not refused after throttle.per_login")
		}
		// Password failures fill the password counter of another address, not its second
		// factors'.
		const cafe = "192.0.2.44"
		for i := range 6 {
			retry("user-"+string(rune('a'+i)), cafe)
		}
		if r := retry("someone", cafe); r <= 0 {
			t.Fatal("password attempts not refused after throttle.per_ip")
		}
		if r := retry(SecondFactorLogin("erin"), cafe); r != 0 {
			t.Fatalf("a second-factor attempt refused by the address's password failures: %v", r)
		}
		// A verified code takes its IP reservation back from the second factors' counter.
		const home = "192.0.2.99"
		for range 10 {
			retry(SecondFactorLogin("frank"), home)
			noErr(t, th.Succeed(ctx, SecondFactorLogin("frank"), home))
		}
		if r := retry(SecondFactorLogin("gina"), home); r != 0 {
			t.Fatalf("verified codes counted against the address: %v", r)
		}
	})
}
