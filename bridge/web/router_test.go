package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/throttle"
)

func newTestRouter(t *testing.T, https bool, trusted ...string) *echo.Echo {
	t.Helper()
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	e := NewRouter(RouterConfig{TrustedProxies: trusted, HTTPS: https, Renderer: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r.Mount(e)
	e.GET("/ip", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	return e
}

// TestRouterErrors: echo's errors are pages for browsers and JSON for API callers, with the
// security headers and a request id either way.
func TestRouterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, accept, wantType, wantBody string
		https, wantHSTS                  bool
	}{
		{"page", "text/html", "text/html", "There is no page at this address.", false, false},
		{"json", "application/json", "application/json", `"error":"Not Found"`, false, false},
		{"https page", "", "text/html", "Test Association", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestRouter(t, tc.https)
			req := httptest.NewRequest(http.MethodGet, "/nothing-here", nil)
			req.Header.Set("Accept", tc.accept)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d", rec.Code)
			}
			h := rec.Header()
			if !strings.HasPrefix(h.Get("Content-Type"), tc.wantType) || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("%s: %s", h.Get("Content-Type"), rec.Body)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get(echo.HeaderXRequestID) == "" {
				t.Fatalf("headers: %v", h)
			}
			if (h.Get("Strict-Transport-Security") != "") != tc.wantHSTS {
				t.Fatalf("HSTS %q", h.Get("Strict-Transport-Security"))
			}
		})
	}
}

// TestRouterClientIP: X-Forwarded-For is believed only from a trusted proxy.
func TestRouterClientIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		peer    string
		want    string
	}{
		{"no proxies", nil, "10.0.0.1:1234", "10.0.0.1"},
		{"trusted proxy", []string{"10.0.0.0/8"}, "10.0.0.1:1234", "203.0.113.7"},
		{"untrusted peer", []string{"192.168.0.0/16"}, "10.0.0.1:1234", "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestRouter(t, false, tc.trusted...)
			req := httptest.NewRequest(http.MethodGet, "/ip", nil)
			req.RemoteAddr = tc.peer
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Body.String() != tc.want {
				t.Fatalf("ip %q, want %q", rec.Body, tc.want)
			}
		})
	}
}

// TestThemeCSS: the theme stylesheet carries the organisation's colour.
func TestThemeCSS(t *testing.T) {
	rec := httptest.NewRecorder()
	newTestRouter(t, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/theme.css", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "#123456") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestAnonymousLimit: past the address's budget an endpoint answers 429 with Retry-After,
// JSON for API endpoints and JSON callers, a page for browsers, and the refusal is recorded.
func TestAnonymousLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		api      bool
		accept   string
		wantType string
	}{
		{"browser page", false, "text/html", "text/html"},
		{"json caller", false, "application/json", "application/json"},
		{"api endpoint", true, "", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestRouter(t, false)
			var refused []string
			pages, _ := NewRenderer(Brand{})
			l := &AnonymousLimit{Limiter: throttle.NewLimiter(1), Pages: pages,
				Refused: func(_ context.Context, name, ip string) { refused = append(refused, name+"|"+ip) }}
			e.POST("/write", l.Wrap("write", tc.api, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }))
			for i, want := range []int{http.StatusNoContent, http.StatusTooManyRequests} {
				req := httptest.NewRequest(http.MethodPost, "/write", nil)
				req.RemoteAddr = "192.0.2.1:5555"
				req.Header.Set("Accept", tc.accept)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != want {
					t.Fatalf("request %d: status %d, want %d", i, rec.Code, want)
				}
				if want == http.StatusTooManyRequests && (rec.Header().Get("Retry-After") == "" ||
					!strings.HasPrefix(rec.Header().Get("Content-Type"), tc.wantType)) {
					t.Fatalf("refusal: %v %s", rec.Header(), rec.Body)
				}
			}
			if len(refused) != 1 || refused[0] != "write|192.0.2.1" {
				t.Fatalf("refusals recorded: %v", refused)
			}
		})
	}
}
