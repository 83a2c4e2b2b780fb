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
		// The form the in-memory throttle builds its counter keys with (appendIPKeyFor).
		if got := string(appendAddressKey([]byte("ip:"), c.in)); got != "ip:"+c.want {
			t.Errorf("appendAddressKey(%q) = %q, want %q", c.in, got, "ip:"+c.want)
		}
	}
}

// TestNetworkKey (brief s23 L2 item 4): an IPv6 address's /48, whichever of its /64s; none for
// an IPv4 address (also written IPv4-mapped) or what is not an address.
func TestNetworkKey(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1::/48", true},
		{"2001:db8:1:ffff::1", "2001:db8:1::/48", true},
		{"2001:db8:2::1", "2001:db8:2::/48", true},
		{"192.0.2.7", "", false},
		{"::ffff:192.0.2.7", "", false},
		{"not an ip", "", false},
	} {
		if got, ok := NetworkKey(c.in); got != c.want || ok != c.ok {
			t.Errorf("NetworkKey(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
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

// TestReserveReleaseAllocations: once its counters exist, an attempt reserved and taken back
// (every client authentication at the token endpoint: ClientAuthAttempt, then ClientAuthResult)
// allocates nothing in the in-memory throttle: the counter keys are built on the stack and the
// maps read through them. It failed at 4 allocations (9 from an IPv6 address) when the keys were
// strings of their own (the login's and the IP's, built by Reserve and again by Release) and
// Reserve's keys a slice.
func TestReserveReleaseAllocations(t *testing.T) {
	th := New(config.ThrottleConfig{PerLogin: 5, PerIP: 20, Window: time.Minute, Lockout: time.Minute})
	ctx := t.Context()
	for _, c := range []struct{ login, ip string }{
		{"client:web|192.0.2.7", "192.0.2.7"},
		{"client:web|2001:db8:1:2::/64", "2001:db8:1:2:3:4:5:6"},
		{SecondFactorLogin("subject"), "192.0.2.7"},
	} {
		attempt := func() {
			if r, err := th.Reserve(ctx, c.login, c.ip); err != nil || r.RetryAfter > 0 {
				t.Fatalf("Reserve(%q, %q) = %+v, %v", c.login, c.ip, r, err)
			}
			if err := th.Release(ctx, c.login, c.ip); err != nil {
				t.Fatal(err)
			}
		}
		attempt() // the counters' entries
		if n := testing.AllocsPerRun(20, attempt); n != 0 {
			t.Errorf("%q from %s: an attempt reserved and released allocates %.0f objects, want 0", c.login, c.ip, n)
		}
		// Taken back every time: the counters hold nothing.
		if e := th.entries[loginKey(c.login)]; e == nil || len(e.failures) != 0 {
			t.Errorf("%q: login counter %+v after release", c.login, e)
		}
		if e := th.entries[ipKeyFor(c.login, c.ip)]; e == nil || len(e.failures) != 0 {
			t.Errorf("%q: IP counter %+v after release", c.login, e)
		}
	}
}
