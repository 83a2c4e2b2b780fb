package bridge

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Throttle slows and then refuses sign-in attempts after repeated failures, per login and per
// client IP, within a sliding window. It never touches the AMS account (read-only): the bridge
// rate-limits itself. State is in memory, which fits the single-binary sidecar.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures    []time.Time
	lockedUntil time.Time
}

// NewThrottle builds a throttle from the config.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	return &Throttle{cfg: cfg, now: time.Now, entries: map[string]*throttleEntry{}}
}

type throttleKey struct {
	key   string
	limit int
}

// keys are the counters one attempt touches: its login and its client IP.
func (t *Throttle) keys(login, ip string) [2]throttleKey {
	return [2]throttleKey{{loginKey(login), t.cfg.PerLogin}, {ipKey(ip), t.cfg.PerIP}}
}

func loginKey(login string) string {
	return "login:" + strings.ToLower(norm.NFC.String(strings.TrimSpace(login)))
}
func ipKey(ip string) string { return "ip:" + ip }

// Check reserves an attempt for the login and the IP. It returns a retryAfter > 0 when the
// attempt must be refused outright (nothing is reserved then), else a delay to apply before
// verifying (slowing). The reserved attempt counts as a failure from now on, until Succeed or
// Release takes it back, so attempts running in parallel count against the limits before any of
// them is verified.
func (t *Throttle) Check(login, ip string) (delay, retryAfter time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys(login, ip)
	for _, k := range keys {
		e := t.entries[k.key]
		if e == nil {
			continue
		}
		if now.Before(e.lockedUntil) {
			retryAfter = max(retryAfter, e.lockedUntil.Sub(now))
			continue
		}
		n := e.recent(now, t.cfg.Window)
		if n >= k.limit {
			e.lockedUntil, e.failures = now.Add(t.cfg.Lockout), nil
			retryAfter = max(retryAfter, t.cfg.Lockout)
			continue
		}
		if slow := k.limit / 2; n >= slow && slow > 0 {
			delay = max(delay, time.Duration(n-slow+1)*500*time.Millisecond)
		}
	}
	if retryAfter > 0 {
		return 0, retryAfter
	}
	for _, k := range keys {
		e := t.entries[k.key]
		if e == nil {
			e = &throttleEntry{}
			t.entries[k.key] = e
		}
		e.failures = append(e.failures, now)
	}
	return min(delay, 3*time.Second), 0
}

// Succeed takes back a reserved attempt that verified: the login's failures are cleared and the
// IP's reservation is removed.
func (t *Throttle) Succeed(login, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, loginKey(login))
	t.unreserve(ipKey(ip))
}

// Release takes back a reserved attempt that could not be verified (the AMS was unavailable).
func (t *Throttle) Release(login, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unreserve(loginKey(login))
	t.unreserve(ipKey(ip))
}

func (t *Throttle) unreserve(key string) {
	if e := t.entries[key]; e != nil && len(e.failures) > 0 {
		e.failures = e.failures[:len(e.failures)-1]
	}
}

func (e *throttleEntry) recent(now time.Time, window time.Duration) int {
	i := 0
	for i < len(e.failures) && now.Sub(e.failures[i]) > window {
		i++
	}
	e.failures = e.failures[i:]
	return len(e.failures)
}

// Run drops stale entries until ctx ends.
func (t *Throttle) Run(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			now := t.now()
			t.mu.Lock()
			for k, e := range t.entries {
				if e.recent(now, t.cfg.Window) == 0 && now.After(e.lockedUntil) {
					delete(t.entries, k)
				}
			}
			t.mu.Unlock()
		}
	}
}
