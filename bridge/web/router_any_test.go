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

// TestAnyAsEchoAny: a path mounted with Any answers every request as one mounted with echo's
// Any does: each of echo's methods reaches the handler (OPTIONS included), any other method
// gets 405 with the same Allow header, a path nobody mounted 404, through echo and through the
// router's frame (New).
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
	methods := append(slices.Clone(anyMethods[:]), "FOO", "LINK")
	for _, path := range []string{"/oauth/token", "/authorize", "/authorize/callback", "/oauth/token/x",
		"/demo-ams", "/demo-ams/", "/demo-ams/a/b", "/nope", "/oauth/tokens"} {
		for _, m := range methods {
			serve := func(h http.Handler) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(m, path, strings.NewReader("a=b")))
				return rec
			}
			w, g, f := serve(want), serve(got), serve(rt)
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
