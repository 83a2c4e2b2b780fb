package bridge

import (
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/web"
)

// pageData is the data every template gets; page-specific data embeds it.
type pageData = web.Page

// errorData is the error page's data.
type errorData = web.ErrorData

func (s *Server) render(c echo.Context, status int, name string, data any) error {
	return s.pages.Render(c, status, name, data)
}

func (s *Server) base(title string) pageData { return s.pages.Base(title) }

// errorPage renders a person-facing error with the request id as a reference.
func (s *Server) errorPage(c echo.Context, status int, heading, message, hint string) error {
	return s.pages.Error(c, status, heading, message, hint)
}
