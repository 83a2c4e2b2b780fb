package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// rateLimiter counts the writes an anonymous caller makes (auth requests, hand-off POSTs,
// device authorizations, failed sign-ins' audit rows) per client IP in fixed one-minute windows.
// State is in memory, like the throttle.
type rateLimiter struct {
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

func newRateLimiter(perMinute int) *rateLimiter {
	return &rateLimiter{limit: perMinute, window: time.Minute, now: time.Now, entries: map[string]*rateEntry{}}
}

// Allow counts one write for key; when the window's limit is used up it returns false and how
// long until the next window.
func (l *rateLimiter) Allow(key string) (bool, time.Duration) {
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
func (l *rateLimiter) Prune() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.entries {
		if now.Sub(e.start) >= l.window {
			delete(l.entries, k)
		}
	}
}

// addressKey is what the write budget counts per: the IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64, and could otherwise take a fresh address for
// every request).
func addressKey(ip string) string {
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

// retryAfterSeconds is a Retry-After value (whole seconds, at least 1).
func retryAfterSeconds(d time.Duration) string { return fmt.Sprint(int(d.Seconds()) + 1) }

// limitAnonymous rate-limits an endpoint that writes for an anonymous caller, per client IP:
// 429 with Retry-After (JSON for API endpoints, a page for the browser's).
func (s *Server) limitAnonymous(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, wait := s.anonLimit.Allow(name + "|" + addressKey(c.RealIP()))
		if ok {
			return next(c)
		}
		c.Response().Header().Set("Retry-After", retryAfterSeconds(wait))
		s.auditLimited(c, name)
		if api || strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.JSON(http.StatusTooManyRequests, map[string]string{"error": "slow_down",
				"error_description": "too many requests from this address; retry later"})
		}
		return s.errorPage(c, http.StatusTooManyRequests, "Too many requests",
			"We received too many requests from your network in a short time, so we did not act on this one.",
			"Please wait a minute and try again.")
	}
}

// auditAnonymous writes an audit row caused by an anonymous caller (a failed or throttled
// sign-in, a refused sign-in link or hand-off) within the client IP's budget of anonymous
// writes; past it, one "ratelimit.refused" row per minute stands for the rows not written.
func (s *Server) auditAnonymous(ctx context.Context, ev *store.AuditEvent) {
	if ok, _ := s.anonLimit.Allow("audit|" + addressKey(ev.IP)); ok {
		s.audit(ctx, ev)
		return
	}
	if s.anonLimit.First("audit-dropped|" + addressKey(ev.IP)) {
		s.audit(ctx, &store.AuditEvent{Event: "ratelimit.refused", IP: ev.IP, Detail: "audit rows of failed sign-ins"})
	}
}

// auditLimited writes one audit row per limited endpoint, address and window (the first
// refusal), so that refusals cannot fill the audit log themselves.
func (s *Server) auditLimited(c echo.Context, name string) {
	if s.anonLimit.First("refused|" + name + "|" + addressKey(c.RealIP())) {
		s.audit(c.Request().Context(), &store.AuditEvent{Event: "ratelimit.refused", IP: c.RealIP(), Detail: name})
	}
}

// First reports whether this is the first call for key in its window.
func (l *rateLimiter) First(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[key]; e != nil && now.Sub(e.start) < l.window {
		return false
	}
	l.entries[key] = &rateEntry{start: now, n: 1}
	return true
}
