package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

// The access line's level says how much the answer is the bridge's own fault: a 503 (the
// store or the AMS unavailable, already said once by its own warning) is a warning; a 500 (a
// failure nobody expected) an error; anything below 500 information.
func TestAccessLineLevel(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		want       string
	}{
		{"ok", "/ok", http.StatusOK, "INFO"},
		{"not found", "/nothing-here", http.StatusNotFound, "INFO"},
		{"unavailable", "/unavailable", http.StatusServiceUnavailable, "WARN"},
		{"unavailable error", "/unavailable-error", http.StatusServiceUnavailable, "WARN"},
		{"failed", "/failed", http.StatusInternalServerError, "ERROR"},
		{"failed error", "/failed-error", http.StatusInternalServerError, "ERROR"},
		{"bad gateway", "/bad-gateway", http.StatusBadGateway, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out safeBuffer
			e := NewRouter(RouterConfig{Renderer: r, Logger: slog.New(slog.NewJSONHandler(&out, nil))})
			r.Mount(e)
			e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
			e.GET("/unavailable", func(c echo.Context) error {
				c.Response().Header().Set("Retry-After", "5")
				return c.String(http.StatusServiceUnavailable, "try again")
			})
			e.GET("/unavailable-error", func(c echo.Context) error {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "try again")
			})
			e.GET("/failed", func(c echo.Context) error { return c.String(http.StatusInternalServerError, "failed") })
			e.GET("/failed-error", func(c echo.Context) error { return echo.NewHTTPError(http.StatusInternalServerError) })
			e.GET("/bad-gateway", func(c echo.Context) error { return c.String(http.StatusBadGateway, "upstream") })
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "http" {
					if m["level"] != tc.want {
						t.Errorf("access line of a %d at %v, want %s: %s", tc.status, m["level"], tc.want, l)
					}
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d access lines, want 1:\n%s", len(lines), out.String())
			}
		})
	}
}

// TestAccessLineFields pins the access line: one record "http" with the request id, method,
// path (never the query), status, duration and client address, in that order, and the request's
// log fields (client id, subject) added by the logging handler.
func TestAccessLineFields(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	var out safeBuffer
	e := NewRouter(RouterConfig{Renderer: r, Logger: logging.New(&out, logging.FormatText, slog.LevelInfo)})
	e.GET("/ok", func(c echo.Context) error {
		logging.Annotate(c.Request().Context(), "web", "sub-1")
		return c.String(http.StatusOK, "ok")
	})
	req := httptest.NewRequest(http.MethodGet, "/ok?code=secret", nil)
	req.Header.Set(echo.HeaderXRequestID, "rid-1")
	req.RemoteAddr = "192.0.2.7:5555"
	e.ServeHTTP(httptest.NewRecorder(), req)
	line := strings.TrimSpace(out.String())
	re := regexp.MustCompile(`^time=\S+ level=INFO msg=http request_id=rid-1 method=GET path=/ok status=200 duration=\S+ ip=192\.0\.2\.7 client_id=web subject=sub-1$`)
	if !re.MatchString(line) {
		t.Fatalf("access line %q", line)
	}
	if n := testing.AllocsPerRun(50, func() {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ok", nil))
	}); n > 35 {
		t.Fatalf("%v allocations for a request with its access line, budget 35 (25 now)", n)
	}
}
