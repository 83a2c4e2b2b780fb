package throttle

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Limiter counts the writes an anonymous caller makes (auth requests, hand-off POSTs,
// device authorizations, failed sign-ins' audit rows) per client IP in fixed one-minute windows.
// NewLimiter keeps its state in memory, like the throttle; NewSharedLimiter in the store. Errors
// wrap ErrUnavailable.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time
	// counters and keys, when set, hold the windows instead of entries.
	counters store.CounterStore
	keys     counterKeys

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

// WithClock makes l read the time from now (tests; the composition root's clock) and returns
// it. Call it before l is used.
func (l *Limiter) WithClock(now func() time.Time) *Limiter {
	l.now = now
	return l
}

// NewSharedLimiter is NewLimiter with its windows in counters; secret keys the counters' names.
func NewSharedLimiter(perMinute int, counters store.CounterStore, secret []byte) *Limiter {
	l := NewLimiter(perMinute)
	l.counters, l.keys = counters, counterKeys{secret: secret, namespace: "limit"}
	return l
}

// hit counts key in the store with limit, a refusal lasting until the window ends.
func (l *Limiter) hit(ctx context.Context, key string, limit int, now time.Time) (bool, time.Duration, error) {
	c, err := l.counters.HitCounter(ctx, store.CounterHit{Key: l.keys.hash(key), Delta: 1, Limit: limit,
		Window: l.window, Now: now})
	if err != nil {
		return false, 0, unavailable("limit", err)
	}
	if c.Refused(now) {
		return false, c.LockedUntil.Sub(now), nil
	}
	return true, 0, nil
}

// Allow counts one write for key; when the window's limit is used up it returns false and how
// long until the next window.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	if l.counters != nil {
		return l.hit(ctx, key, l.limit, now)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil || now.Sub(e.start) >= l.window {
		e = &rateEntry{start: now}
		l.entries[key] = e
	}
	if e.n >= l.limit {
		return false, e.start.Add(l.window).Sub(now), nil
	}
	e.n++
	return true, 0, nil
}

// Prune forgets finished windows (the store's purge drops shared ones).
func (l *Limiter) Prune() {
	if l.counters != nil {
		return
	}
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
	p, ok := addressPrefix(ip)
	if !ok {
		return ip
	}
	return p.String()
}

// appendAddressKey appends AddressKey(ip) to dst.
func appendAddressKey(dst []byte, ip string) []byte {
	p, ok := addressPrefix(ip)
	if !ok {
		return append(dst, ip...)
	}
	return p.AppendTo(dst)
}

// addressPrefix is the /64 AddressKey counts an IPv6 address by; false: the key is ip itself
// (IPv4, or not an address).
func addressPrefix(ip string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return netip.Prefix{}, false
	}
	p, err := a.Prefix(64)
	return p, err == nil
}

// NetworkKey is the IPv6 /48 of ip (one site's usual allocation: 65,536 /64s, each an address
// to AddressKey), for a budget coarser than the address's; false for an IPv4 address (its
// address is already the finest a client gets) or what is not an address.
func NetworkKey(ip string) (string, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return "", false
	}
	p, err := a.Prefix(48)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

// RetryAfterSeconds is a Retry-After value (whole seconds, at least 1).
func RetryAfterSeconds(d time.Duration) string { return fmt.Sprint(int(d.Seconds()) + 1) }

// First reports whether this is the first call for key in its window.
func (l *Limiter) First(ctx context.Context, key string) (bool, error) {
	now := l.now()
	if l.counters != nil {
		ok, _, err := l.hit(ctx, key, 1, now)
		return ok, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[key]; e != nil && now.Sub(e.start) < l.window {
		return false, nil
	}
	l.entries[key] = &rateEntry{start: now, n: 1}
	return true, nil
}
