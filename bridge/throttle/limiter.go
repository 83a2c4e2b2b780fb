package throttle

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Limiter counts the writes an anonymous caller makes (auth requests, hand-off POSTs,
// device authorizations, failed sign-ins' audit rows) per client IP in fixed one-minute windows.
// State is in memory, like the throttle.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*rateEntry
}

type rateEntry struct {
	start time.Time
	n     int
}

// NewLimiter allows perMinute writes per key and one-minute window.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{limit: perMinute, window: time.Minute, now: time.Now, entries: map[string]*rateEntry{}}
}

// Allow counts one write for key; when the window's limit is used up it returns false and how
// long until the next window.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil || now.Sub(e.start) >= l.window {
		e = &rateEntry{start: now}
		l.entries[key] = e
	}
	if e.n >= l.limit {
		return false, e.start.Add(l.window).Sub(now)
	}
	e.n++
	return true, 0
}

// Prune forgets finished windows.
func (l *Limiter) Prune() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.entries {
		if now.Sub(e.start) >= l.window {
			delete(l.entries, k)
		}
	}
}

// AddressKey is what the write budget counts per: the IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64, and could otherwise take a fresh address for
// every request).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// RetryAfterSeconds is a Retry-After value (whole seconds, at least 1).
func RetryAfterSeconds(d time.Duration) string { return fmt.Sprint(int(d.Seconds()) + 1) }

// First reports whether this is the first call for key in its window.
func (l *Limiter) First(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[key]; e != nil && now.Sub(e.start) < l.window {
		return false
	}
	l.entries[key] = &rateEntry{start: now, n: 1}
	return true
}
