package mfa

import "github.com/labstack/echo/v4"

// mountPasskeys adds the WebAuthn endpoints (none yet).
func (h *Handler) mountPasskeys(e *echo.Echo) {}
