package throttle

import (
	"testing"
	"time"
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
	now := time.Unix(1000, 0)
	l := NewLimiter(2)
	l.now = func() time.Time { return now }
	for i := range 2 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("write %d refused", i+1)
		}
	}
	ok, wait := l.Allow("k")
	if ok || wait != time.Minute {
		t.Fatalf("third write: %v %v", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("another key refused")
	}
	now = now.Add(time.Minute)
	l.Prune()
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("refused in a new window")
	}
}
