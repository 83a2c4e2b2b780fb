package bridge

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// limitAnonymous rate-limits an endpoint that writes for an anonymous caller, per client IP:
// 429 with Retry-After (JSON for API endpoints, a page for the browser's).
func (s *Server) limitAnonymous(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, wait := s.anonLimit.Allow(name + "|" + throttle.AddressKey(c.RealIP()))
		if ok {
			return next(c)
		}
		c.Response().Header().Set("Retry-After", throttle.RetryAfterSeconds(wait))
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
	if ok, _ := s.anonLimit.Allow("audit|" + throttle.AddressKey(ev.IP)); ok {
		s.audit(ctx, ev)
		return
	}
	if s.anonLimit.First("audit-dropped|" + throttle.AddressKey(ev.IP)) {
		s.audit(ctx, &store.AuditEvent{Event: "ratelimit.refused", IP: ev.IP, Detail: "audit rows of failed sign-ins"})
	}
}

// auditLimited writes one audit row per limited endpoint, address and window (the first
// refusal), so that refusals cannot fill the audit log themselves.
func (s *Server) auditLimited(c echo.Context, name string) {
	if s.anonLimit.First("refused|" + name + "|" + throttle.AddressKey(c.RealIP())) {
		s.audit(c.Request().Context(), &store.AuditEvent{Event: "ratelimit.refused", IP: c.RealIP(), Detail: name})
	}
}
