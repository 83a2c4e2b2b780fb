package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/labstack/echo/v4"
)

// mounter is a part that mounts with a function.
type mounter func(e *echo.Echo)

func (m mounter) Mount(e *echo.Echo) { m(e) }

// TestRefuseUnrouted (session 22's leftover: /healthz, /readyz and the pages answered echo's
// 405, naming OPTIONS, which they do not serve, and echo answered their OPTIONS 204 itself):
// through Router.Mount, a path routed with echo's e.GET, e.POST ... refuses every other method,
// OPTIONS and unknown ones included, 405 with an Allow header naming exactly its methods; the
// paths routed with Methods and Any keep their own refusals and handlers; a path nobody routed
// is still 404; a route record is added by nobody.
func TestRefuseUnrouted(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok "+c.Request().Method) }
	rt := New(RouterConfig{Renderer: r, Logger: slog.New(slog.DiscardHandler)})
	rt.Mount(mounter(func(e *echo.Echo) {
		e.GET("/page", ok)
		e.POST("/page", ok)
		e.GET("/healthz", ok)
		e.HEAD("/healthz", ok)
		e.POST("/form", ok)
		e.GET("/static/*", ok)
		e.GET("/start/:sp", ok)
		Methods(e, "/token", ok, func(c echo.Context) error { return c.String(http.StatusTeapot, "own") }, http.MethodPost, http.MethodOptions)
		Any(e, "/prefix", ok)
	}))
	records := len(rt.Echo.Routes())
	methods := append(slices.Clone(echoAnyMethods), "FOO")
	for _, c := range []struct {
		path   string
		served []string
		allow  string // the 405's Allow; "-": no 405 (the path's own refusal, or its handler for every method)
	}{
		{"/page", []string{http.MethodGet, http.MethodPost}, "GET, POST"},
		{"/healthz", []string{http.MethodGet, http.MethodHead}, "GET, HEAD"},
		{"/form", []string{http.MethodPost}, "POST"},
		{"/static/a/b.css", []string{http.MethodGet}, "GET"},
		{"/start/lms", []string{http.MethodGet}, "GET"},
		{"/token", []string{http.MethodPost, http.MethodOptions}, "-"},
		{"/prefix", methods, "-"},
	} {
		for _, m := range methods {
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest(m, c.path, nil))
			allow := rec.Header().Get("Allow")
			switch {
			case slices.Contains(c.served, m):
				if rec.Code != http.StatusOK || rec.Body.String() != "ok "+m || allow != "" {
					t.Errorf("%s %s: %d %q Allow %q, want the handler's 200", m, c.path, rec.Code, rec.Body.String(), allow)
				}
			case c.allow == "-":
				if rec.Code != http.StatusTeapot || rec.Body.String() != "own" {
					t.Errorf("%s %s: %d %q, want the path's own refusal", m, c.path, rec.Code, rec.Body.String())
				}
			default:
				if rec.Code != http.StatusMethodNotAllowed || allow != c.allow {
					t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", m, c.path, rec.Code, allow, c.allow)
				}
			}
		}
	}
	for _, m := range methods {
		for _, p := range []string{"/nope", "/pages", "/start", "/form/x"} {
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest(m, p, nil))
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", m, p, rec.Code)
			}
		}
	}
	if got := len(rt.Echo.Routes()); got != records {
		t.Errorf("RefuseUnrouted added route records: %d, then %d", records, got)
	}
	// A route mounted afterwards, outside Mount, keeps echo's 405 (what the bridge's walk over
	// every route catches: TestEveryRouteNamesItsMethods).
	rt.Echo.GET("/late", ok)
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/late", nil))
	if rec.Header().Get("Allow") != "OPTIONS, GET" {
		t.Errorf("a route added after Mount: Allow %q, want echo's", rec.Header().Get("Allow"))
	}
}
