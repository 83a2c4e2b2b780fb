package bridge

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/static"
	"github.com/ssobridge/ssobridge/templates"
)

type pages struct {
	org  Organisation
	tmpl map[string]*template.Template
}

func newPages(org Organisation) (*pages, error) {
	p := &pages{org: org, tmpl: map[string]*template.Template{}}
	for _, name := range []string{"login", "consent", "logout", "error", "home", "playground", "handoff", "account"} {
		t, err := template.ParseFS(templates.FS, "layout.html", name+".html")
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		p.tmpl[name] = t
	}
	return p, nil
}

// page is the data every template gets; Data is page-specific and embedded by callers.
type pageData struct {
	Title string
	Org   Organisation
}

func (s *Server) render(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.pages.tmpl[name].ExecuteTemplate(&buf, name+".html", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

func (s *Server) base(title string) pageData { return pageData{Title: title, Org: s.pages.org} }

type errorData struct {
	pageData
	Heading, Message, Hint, RequestRef string
	// Link, when set, is offered as a way on (LinkText names it).
	Link, LinkText string
}

// errorPage renders a person-facing error with the request id as a reference.
func (s *Server) errorPage(c echo.Context, status int, heading, message, hint string) error {
	return s.render(c, status, "error", errorData{
		pageData: s.base(heading), Heading: heading, Message: message, Hint: hint,
		RequestRef: c.Response().Header().Get(echo.HeaderXRequestID),
	})
}

// protocolErrorPage renders op's non-redirecting authorize/end_session errors.
func (s *Server) protocolErrorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	c := s.echo.NewContext(r, echo.NewResponse(w, s.echo))
	c.Response().Header().Set(echo.HeaderXRequestID, w.Header().Get(echo.HeaderXRequestID))
	_ = s.errorPage(c, status, "This sign-in request cannot be used",
		"The app that sent you here made a request we cannot accept: "+message,
		"Go back to the app and try again. If it keeps happening, tell the app's support team.")
}

func staticHandler() echo.HandlerFunc {
	sub, _ := fs.Sub(static.FS, ".")
	h := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

func (s *Server) themeCSS(c echo.Context) error {
	color := s.pages.org.PrimaryColor
	if color == "" {
		color = "#0b5cab"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", []byte(":root { --primary: "+color+"; }\n"))
}

type homeData struct {
	pageData
	Playground bool
	SignedIn   bool
}

func (s *Server) home(c echo.Context) error {
	_, err := s.currentSession(c)
	return s.render(c, http.StatusOK, "home", homeData{pageData: s.base("Sign-in service"), Playground: s.cfg.PlaygroundEnabled(), SignedIn: err == nil})
}
