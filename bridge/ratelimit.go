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
		s.auditLog.Refused(c.Request().Context(), name, c.RealIP())
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

// auditAnonymous writes an audit row caused by an anonymous caller within the client IP's
// budget of anonymous writes (audit.Log.Anonymous).
func (s *Server) auditAnonymous(ctx context.Context, ev *store.AuditEvent) {
	s.auditLog.Anonymous(ctx, ev)
}
