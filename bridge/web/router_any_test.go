package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// anyMounts mounts the same routes on e with any (echo's Any or the package's): two paths for
// every method, a prefix with a wildcard, and a GET and a POST route beside them.
func anyMounts(e *echo.Echo, any func(e *echo.Echo, path string, h echo.HandlerFunc)) {
	say := func(what string) echo.HandlerFunc {
		return func(c echo.Context) error {
			return c.String(http.StatusOK, what+" "+c.Request().Method+" "+c.Path()+" "+c.Param("*"))
		}
	}
	any(e, "/oauth/token", say("token"))
	any(e, "/authorize", say("authorize"))
	any(e, "/demo-ams", say("prefix"))
	any(e, "/demo-ams/*", say("prefix"))
	e.GET("/authorize/callback", say("callback"))
	e.POST("/oauth/token/x", say("x"))
}

// echoAnyMethods are the methods echo.Echo.Any routes (echo's own list, not exported).
var echoAnyMethods = []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead,
	http.MethodOptions, http.MethodPatch, http.MethodPost, echo.PROPFIND, http.MethodPut, http.MethodTrace,
	echo.REPORT}

// TestAnyAsEchoAny: a path mounted with Any answers every request of echo's methods as one
// mounted with echo's Any does (each reaches the handler, OPTIONS included), and any other
// method (FOO) reaches the handler too, where echo's Any answers 405 naming its eleven methods
// (review s21 X2-2); the routes beside them (a GET, a POST), a path nobody mounted and a
// path below one mounted answer as echo's, through echo and through the router's frame (New).
func TestAnyAsEchoAny(t *testing.T) {
	echoAny := func(e *echo.Echo, path string, h echo.HandlerFunc) { e.Any(path, h) }
	want, got := echo.New(), echo.New()
	anyMounts(want, echoAny)
	anyMounts(got, Any)
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	rt := New(RouterConfig{Renderer: r, Logger: slog.New(slog.DiscardHandler)})
	anyMounts(rt.Echo, Any)
	methods := append(slices.Clone(echoAnyMethods), "FOO", "LINK")
	for _, path := range []string{"/oauth/token", "/authorize", "/authorize/callback", "/oauth/token/x",
		"/demo-ams", "/demo-ams/", "/demo-ams/a/b", "/nope", "/oauth/tokens"} {
		for _, m := range methods {
			serve := func(h http.Handler) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(m, path, strings.NewReader("a=b")))
				return rec
			}
			w, g, f := serve(want), serve(got), serve(rt)
			mounted := map[string]string{"/oauth/token": "token", "/authorize": "authorize", "/demo-ams": "prefix",
				"/demo-ams/": "prefix", "/demo-ams/a/b": "prefix"}[path]
			if !slices.Contains(echoAnyMethods, m) && mounted != "" {
				// Past echo's Any: the handler answers, with the route's path and parameters.
				route, param := path, ""
				if strings.HasPrefix(path, "/demo-ams/") {
					route, param = "/demo-ams/*", strings.TrimPrefix(path, "/demo-ams/")
				}
				body := mounted + " " + m + " " + route + " " + param
				for _, rec := range []*httptest.ResponseRecorder{g, f} {
					if rec.Code != http.StatusOK || rec.Body.String() != body || rec.Header().Get("Allow") != "" {
						t.Errorf("%s %s: %d Allow %q %q, want 200 %q", m, path, rec.Code, rec.Header().Get("Allow"), rec.Body.String(), body)
					}
				}
				continue
			}
			for _, r := range []struct {
				name string
				rec  *httptest.ResponseRecorder
			}{{"echo", g}, {"router", f}} {
				if r.rec.Code != w.Code || r.rec.Header().Get("Allow") != w.Header().Get("Allow") ||
					(w.Code == http.StatusOK && r.rec.Body.String() != w.Body.String()) {
					t.Errorf("%s %s through %s: %d Allow %q %q, echo's Any: %d Allow %q %q", m, path, r.name,
						r.rec.Code, r.rec.Header().Get("Allow"), r.rec.Body.String(), w.Code, w.Header().Get("Allow"), w.Body.String())
				}
			}
		}
	}
}

// TestMethods: a path mounted with Methods reaches its handler with its methods only; every
// other method, echo's or any other, gets the refusal: 405 with an Allow header naming the
// methods but OPTIONS (Refuse, through the frame's error handler), or the caller's own; paths
// below it and beside it are not its (404).
func TestMethods(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	rt := New(RouterConfig{Renderer: r, Logger: slog.New(slog.DiscardHandler)})
	say := func(what string) echo.HandlerFunc {
		return func(c echo.Context) error { return c.String(http.StatusOK, what+" "+c.Request().Method+" "+c.Path()) }
	}
	Methods(rt.Echo, "/token", say("token"), nil, http.MethodPost, http.MethodOptions)
	Methods(rt.Echo, "/info", say("info"), say("refused"), http.MethodGet, http.MethodHead, http.MethodPost)
	if n := len(rt.Echo.Routes()); n != 2 {
		t.Errorf("%d route records, want 1 per path", n)
	}
	for _, c := range []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{http.MethodPost, "/token", 200, "", "token POST /token"},
		{http.MethodOptions, "/token", 200, "", "token OPTIONS /token"},
		{http.MethodGet, "/token", 405, "POST", ""},
		{http.MethodHead, "/token", 405, "POST", ""},
		{http.MethodPut, "/token", 405, "POST", ""},
		{http.MethodTrace, "/token", 405, "POST", ""},
		{"FOO", "/token", 405, "POST", ""},
		{http.MethodHead, "/info", 200, "", "info HEAD /info"},
		{http.MethodGet, "/info", 200, "", "info GET /info"},
		{http.MethodOptions, "/info", 200, "", "refused OPTIONS /info"},
		{"FOO", "/info", 200, "", "refused FOO /info"},
		{http.MethodPost, "/token/x", 404, "", ""},
		{"FOO", "/tokens", 404, "", ""},
		{"FOO", "/", 404, "", ""},
	} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow || (c.body != "" && rec.Body.String() != c.body) {
			t.Errorf("%s %s: %d Allow %q %q, want %d Allow %q %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"),
				rec.Body.String(), c.status, c.allow, c.body)
		}
	}
}

// TestAnyKeepsOneRecord: Any keeps one route record for its path (echo's Any one per method,
// eleven), so that the routes of twenty paths hold less than half the live objects echo's Any
// leaves: what a mount leaves stays live for the life of the process, marked at every collection.
func TestAnyKeepsOneRecord(t *testing.T) {
	e := echo.New()
	h := func(c echo.Context) error { return nil }
	Any(e, "/oauth/token", h)
	if n := len(e.Routes()); n != 1 {
		t.Errorf("Any left %d route records, want 1", n)
	}
	live := func(any func(e *echo.Echo, path string, h echo.HandlerFunc)) (objects, bytes uint64) {
		var before, after runtime.MemStats
		e := echo.New()
		runtime.GC() // twice: the second frees what sync.Pools held over the first
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range 20 {
			any(e, "/path"+strconv.Itoa(i), h)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(e)
		return after.HeapObjects - before.HeapObjects, after.HeapAlloc - before.HeapAlloc
	}
	objs, size := live(Any)
	echoObjs, echoSize := live(func(e *echo.Echo, path string, h echo.HandlerFunc) { e.Any(path, h) })
	t.Logf("live after mounting twenty paths: Any %d objects, %d bytes; echo's Any %d objects, %d bytes", objs, size, echoObjs, echoSize)
	if objs*2 > echoObjs {
		t.Errorf("Any left %d live objects for twenty paths, echo's Any %d: want less than half", objs, echoObjs)
	}
}
