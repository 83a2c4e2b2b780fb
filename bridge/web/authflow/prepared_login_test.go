package authflow

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// TestLoginPagePrepared: the login form (no login typed, no message) comes from the client's
// page prepared once, and is byte for byte the page the template renders for the request: the
// browser's own CSRF token and the request's id in every form, the client's name escaped; a
// renamed client gets its new name; a page with a typed login or a message is rendered.
func TestLoginPagePrepared(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{Name: "Assoc"})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(strings.Repeat("k", 32))
	h := &Handler{Pages: pages, Issuer: "https://sso.example", Now: time.Now, AMSName: "the member website",
		Upstreams: []web.UpstreamButton{{Name: "corp", Label: "Corp"}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cookies: session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, nil, pages)}
	e := echo.New()
	show := func(ar *sso.AuthRequest, client *sso.ClientConfig, login, msg string) (string, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/authorize", nil), rec)
		if err := h.showLogin(c, ar, client, login, msg, http.StatusOK); err != nil {
			t.Fatal(err)
		}
		csrf, err := h.Cookies.CSRFToken(c)
		if err != nil {
			t.Fatal(err)
		}
		// What the template renders for this request.
		want := httptest.NewRecorder()
		if err := pages.Render(e.NewContext(httptest.NewRequest(http.MethodGet, "/authorize", nil), want), http.StatusOK, "login", loginData{
			Page: pages.Base("Sign in"), CSRF: csrf, RequestID: ar.ID, ClientName: client.Name, Login: login, Error: msg,
			AMSName: h.AMSName, Upstreams: h.Upstreams}); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String(), want.Body.String()
	}
	app := &sso.ClientConfig{ID: "app", Name: `Tom & "Jerry" <App>`}
	for i := range 3 {
		ar := &sso.AuthRequest{ID: sso.RandomToken(), ClientID: "app"}
		got, want := show(ar, app, "", "")
		if got != want || !strings.Contains(got, ar.ID) || strings.Contains(got, "slot") {
			t.Fatalf("request %d: prepared page differs from the rendered one:\n%s\n---\n%s", i, got, want)
		}
	}
	if n := len(h.logins.pages); n != 1 {
		t.Fatalf("%d pages prepared for one client, want 1", n)
	}
	app.Name = "Renamed App"
	if got, want := show(&sso.AuthRequest{ID: sso.RandomToken()}, app, "", ""); got != want || !strings.Contains(got, "Renamed App") {
		t.Fatalf("renamed client: %q", got)
	}
	for _, tc := range [][2]string{{"alice", ""}, {"", "Wrong login or password"}} {
		if got, want := show(&sso.AuthRequest{ID: sso.RandomToken()}, app, tc[0], tc[1]); got != want {
			t.Fatalf("login %q message %q: %q", tc[0], tc[1], got)
		}
	}
}

// BenchmarkLoginPage: the login form from the client's prepared page (showLogin) against the
// template rendering the same page.
func BenchmarkLoginPage(b *testing.B) {
	pages, err := web.NewRenderer(web.Brand{Name: "Assoc"})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte(strings.Repeat("k", 32))
	h := &Handler{Pages: pages, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cookies: session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, nil, pages)}
	e := echo.New()
	ar, app := &sso.AuthRequest{ID: sso.RandomToken()}, &sso.ClientConfig{ID: "app", Name: "App"}
	req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
	for _, bc := range []struct {
		name string
		page func(c echo.Context) error
	}{
		{"prepared", func(c echo.Context) error { return h.showLogin(c, ar, app, "", "", http.StatusOK) }},
		{"rendered", func(c echo.Context) error {
			csrf, err := h.Cookies.CSRFToken(c)
			if err != nil {
				return err
			}
			return pages.Render(c, http.StatusOK, "login", loginData{Page: pages.Base("Sign in"), CSRF: csrf, RequestID: ar.ID, ClientName: app.Name})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := e.NewContext(req.Clone(req.Context()), httptest.NewRecorder())
				if err := bc.page(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
