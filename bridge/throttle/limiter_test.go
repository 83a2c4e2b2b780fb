package throttle

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

func TestAddressKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"not an ip", "not an ip"},
	} {
		if got := AddressKey(c.in); got != c.want {
			t.Errorf("AddressKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRateLimiterWindow: the limit holds within a window and a new window starts afresh.
func TestRateLimiterWindow(t *testing.T) {
	eachImpl(t, func(t *testing.T, _ func(config.ThrottleConfig) *Throttle, newLimiter func(int) *Limiter) {
		ctx := t.Context()
		now := time.Unix(1000, 0)
		l := newLimiter(2)
		l.now = func() time.Time { return now }
		allow := func(key string) (bool, time.Duration) {
			t.Helper()
			ok, wait, err := l.Allow(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok, wait
		}
		for i := range 2 {
			if ok, _ := allow("k"); !ok {
				t.Fatalf("write %d refused", i+1)
			}
		}
		ok, wait := allow("k")
		if ok || wait != time.Minute {
			t.Fatalf("third write: %v %v", ok, wait)
		}
		if ok, _ := allow("other"); !ok {
			t.Fatal("another key refused")
		}
		if first, err := l.First(ctx, "f"); err != nil || !first {
			t.Fatalf("First: %v %v", first, err)
		}
		if first, _ := l.First(ctx, "f"); first {
			t.Fatal("First twice in a window")
		}
		now = now.Add(time.Minute)
		l.Prune()
		if ok, _ := allow("k"); !ok {
			t.Fatal("refused in a new window")
		}
		if first, _ := l.First(ctx, "f"); !first {
			t.Fatal("First not first in a new window")
		}
	})
}
