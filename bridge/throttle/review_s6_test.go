package throttle

import (
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestPerIPLimitCountsAnIPv6Network (review s6 F1): one host usually holds a whole IPv6 /64 and
// can take a fresh address for every attempt; the per-IP sign-in limit must count the /64, as the
// anonymous-write budget does (AddressKey), or a password spray from one host is never refused.
func TestPerIPLimitCountsAnIPv6Network(t *testing.T) {
	eachImpl(t, func(t *testing.T, newThrottle func(config.ThrottleConfig) *Throttle, _ func(int) *Limiter) {
		now := time.Unix(1_700_000_000, 0)
		th := newThrottle(config.ThrottleConfig{PerLogin: 5, PerIP: 10, Window: time.Minute, Lockout: 5 * time.Minute})
		th.now = func() time.Time { return now }
		for i := range 10 {
			// a different login and a different address of one /64 each time
			if _, r, err := th.Check(t.Context(), fmt.Sprintf("member%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1)); err != nil || r != 0 {
				t.Fatalf("attempt %d: %v %v", i, r, err)
			}
		}
		_, r, err := th.Check(t.Context(), "member-next", "2001:db8:1:2:ffff::1")
		if err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			t.Fatal("an 11th attempt from the same IPv6 /64 was let through: the per-IP limit counts single addresses")
		}
		// another /64 is another network
		if _, r, err := th.Check(t.Context(), "member-other", "2001:db8:1:3::1"); err != nil || r != 0 {
			t.Fatalf("another /64 refused: %v %v", r, err)
		}
		// IPv4 addresses stay apart
		for i := range 10 {
			if _, r, err := th.Check(t.Context(), fmt.Sprintf("v4-%d", i), "192.0.2.1"); err != nil || r != 0 {
				t.Fatalf("v4 attempt %d: %v %v", i, r, err)
			}
		}
		if _, r, err := th.Check(t.Context(), "v4-x", "192.0.2.2"); err != nil || r != 0 {
			t.Fatalf("a neighbouring IPv4 address refused: %v %v", r, err)
		}
	})
}
