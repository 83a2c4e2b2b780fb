package bridge

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// The protocol endpoints run in sso, which does not know the bridge's idea of the client IP
// (trusted proxies): the bridge puts it in the request context, where the audit hook and the
// client-authentication throttle find it.

type clientIPKey struct{}

// protocol serves the provider with the client IP in the request context.
func (s *Server) protocol() echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, c.RealIP()))
		s.provider.ServeHTTP(c.Response(), r)
		return nil
	}
}

// requestIP is the client IP of the protocol request behind ctx ("" outside one).
func requestIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

var _ sso.ClientAuthLimiter = (*hooks)(nil)

// clientThrottleKey counts failures per client and IP together: a client's own servers keep
// working while someone elsewhere guesses its secret (per IP counts every client).
func clientThrottleKey(clientID, ip string) string { return "client:" + clientID + "|" + ip }

// ClientAuthAttempt implements sso.ClientAuthLimiter with the login throttle's limits
// (throttle.per_login per client and IP, throttle.per_ip per IP) on its own counters.
func (h *hooks) ClientAuthAttempt(r *http.Request, clientID string) time.Duration {
	ip := h.ip(r)
	_, retryAfter := h.s.clientThrottle.Check(clientThrottleKey(clientID, ip), ip)
	return retryAfter
}

// ClientAuthResult implements sso.ClientAuthLimiter: a success takes its reservation back.
func (h *hooks) ClientAuthResult(r *http.Request, clientID string, ok bool) {
	if ok {
		ip := h.ip(r)
		h.s.clientThrottle.Release(clientThrottleKey(clientID, ip), ip)
	}
}

func (h *hooks) ip(r *http.Request) string {
	if ip := requestIP(r.Context()); ip != "" {
		return ip
	}
	return h.s.echo.NewContext(r, nil).RealIP()
}
