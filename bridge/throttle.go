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

// Check returns a delay to apply before verifying (slowing), or a retryAfter > 0 when the
// attempt must be refused outright.
func (t *Throttle) Check(login, ip string) (delay, retryAfter time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys(login, ip) {
		e := t.entries[k.key]
		if e == nil {
			continue
		}
		if now.Before(e.lockedUntil) {
			retryAfter = max(retryAfter, e.lockedUntil.Sub(now))
			continue
		}
		n := e.recent(now, t.cfg.Window)
		if slow := k.limit / 2; n >= slow && slow > 0 {
			delay = max(delay, time.Duration(n-slow+1)*500*time.Millisecond)
		}
	}
	return min(delay, 3*time.Second), retryAfter
}

// Fail records a failed attempt for the login and the IP.
func (t *Throttle) Fail(login, ip string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys(login, ip) {
		e := t.entries[k.key]
		if e == nil {
			e = &throttleEntry{}
			t.entries[k.key] = e
		}
		e.failures = append(e.failures, now)
		if e.recent(now, t.cfg.Window) >= k.limit {
			e.lockedUntil = now.Add(t.cfg.Lockout)
			e.failures = nil
		}
	}
}

// Succeed clears the login's failures (the IP keeps its record).
func (t *Throttle) Succeed(login string) {
	t.mu.Lock()
	delete(t.entries, loginKey(login))
	t.mu.Unlock()
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
