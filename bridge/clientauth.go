package bridge

import (
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/hooks"
)

// protocol serves the provider with the client IP in the request context (hooks.ClientIP:
// sso does not know the bridge's idea of it, trusted proxies).
func (s *Server) protocol() echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		r = r.WithContext(hooks.WithClientIP(r.Context(), c.RealIP()))
		s.provider.ServeHTTP(c.Response(), r)
		return nil
	}
}
