package web

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
)

// observed is a RequestObserver that keeps what it is told.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) ObserveRequest(route, method string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, route+" "+method+" "+http.StatusText(status))
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.seen
	o.seen = nil
	return s
}

// routeObserved is a RouteObserver that keeps what it is told, and through which of its ways.
type routeObserved struct {
	observed
	routes []string // the routes ObserveRoute was asked for
}

func (o *routeObserved) ObserveRequest(route, method string, status int, took time.Duration) {
	o.observed.ObserveRequest("request "+route, method, status, took)
}

func (o *routeObserved) ObserveRoute(route string) func(string, int, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes = append(o.routes, route)
	return func(method string, status int, took time.Duration) {
		o.observed.ObserveRequest("route "+route, method, status, took)
	}
}

// TestDocumentsObservedThroughTheirRoute: with a RouteObserver, New resolves each document's
// route once, and a document answered ahead of echo is told to its route's function; what
// goes through echo (a document's request with a body, any other route) to ObserveRequest, as
// with any observer.
func TestDocumentsObservedThroughTheirRoute(t *testing.T) {
	var out safeBuffer
	var obs routeObserved
	rt := newDocRouter(t, &out, &obs)
	if want := []string{"/boom", "/doc"}; !slices.Equal(obs.routes, want) {
		t.Fatalf("routes resolved ahead: %v, want %v", obs.routes, want)
	}
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/doc", nil),
		httptest.NewRequest(http.MethodHead, "/doc", nil),
		httptest.NewRequest(http.MethodPost, "/doc", strings.NewReader("x=1")),
		httptest.NewRequest(http.MethodGet, "/theme.css", nil),
	} {
		rt.ServeHTTP(httptest.NewRecorder(), req)
	}
	want := []string{"route /doc GET OK", "route /doc HEAD OK", "request /doc POST Method Not Allowed", "request /theme.css GET OK"}
	if got := obs.take(); !slices.Equal(got, want) || len(obs.routes) != 2 {
		t.Fatalf("observed %q (routes resolved %v), want %q", got, obs.routes, want)
	}
}

// testDocument answers GET and HEAD with a small JSON document, anything else 405.
var testDocument = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(`{"doc":true}`))
	}
})

func newDocRouter(t *testing.T, out *safeBuffer, obs RequestObserver) *Router {
	t.Helper()
	pages, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	rt := New(RouterConfig{Renderer: pages, Logger: logging.New(out, logging.FormatJSON, slog.LevelInfo), Requests: obs,
		Documents: map[string]http.Handler{
			"/doc":  testDocument,
			"/boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }),
		}})
	pages.Mount(rt.Echo)
	return rt
}

// accessLines are the "http" lines of out, each without its time, duration and request id
// (returned apart), in order.
func accessLines(t *testing.T, out string) (lines []map[string]any, ids []string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] != "http" {
			continue
		}
		if _, ok := m["duration"]; !ok {
			t.Errorf("access line without a duration: %s", l)
		}
		ids = append(ids, m["request_id"].(string))
		delete(m, "time")
		delete(m, "duration")
		delete(m, "request_id")
		lines = append(lines, m)
	}
	return lines, ids
}

// TestDocumentsAheadOfEcho: a document answered ahead of echo (Router.ServeHTTP) gets exactly
// what the same request gets through echo's router and the frame: status, body, every header
// (the security headers, a request id of its own), the observer's route, method and status,
// and one access line with the same fields; the caller's request id is kept; HEAD, other
// methods, a client gone and a request with a body (which goes through echo: 413 past the
// bound) are answered alike.
func TestDocumentsAheadOfEcho(t *testing.T) {
	for _, tc := range []struct {
		name, method, rid string
		body              string
		length            int64
		gone              bool
		want              int
		logged            float64
	}{
		{name: "get", method: http.MethodGet, want: 200, logged: 200},
		{name: "head", method: http.MethodHead, want: 200, logged: 200},
		{name: "caller's request id", method: http.MethodGet, rid: "from-the-proxy", want: 200, logged: 200},
		{name: "post", method: http.MethodPost, want: 405, logged: 405},
		{name: "post with a body", method: http.MethodPost, body: "x=1", want: 405, logged: 405},
		{name: "declared too large", method: http.MethodPost, body: "x=1", length: MaxRequestBody + 1, want: 413, logged: 413},
		{name: "client gone", method: http.MethodGet, gone: true, want: 200, logged: StatusClientGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outDirect, outEcho safeBuffer
			var obsDirect, obsEcho observed
			direct, viaEcho := newDocRouter(t, &outDirect, &obsDirect), newDocRouter(t, &outEcho, &obsEcho)
			serve := func(h http.Handler) *httptest.ResponseRecorder {
				req := httptest.NewRequest(tc.method, "/doc", strings.NewReader(tc.body))
				if tc.body == "" {
					req = httptest.NewRequest(tc.method, "/doc", nil)
				}
				if tc.length != 0 {
					req.ContentLength = tc.length
				}
				if tc.rid != "" {
					req.Header.Set(echo.HeaderXRequestID, tc.rid)
				}
				req.RemoteAddr = "192.0.2.7:5555"
				if tc.gone {
					ctx, cancel := context.WithCancel(req.Context())
					cancel()
					req = req.WithContext(ctx)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			a, b := serve(direct), serve(viaEcho.Echo)
			if a.Code != tc.want || b.Code != tc.want {
				t.Fatalf("answered %d ahead of echo and %d through it, want %d", a.Code, b.Code, tc.want)
			}
			if tc.want == 200 && a.Body.String() != b.Body.String() {
				t.Fatalf("bodies %q and %q", a.Body, b.Body)
			}
			ha, hb := a.Header().Clone(), b.Header().Clone()
			ra, rb := ha.Get(echo.HeaderXRequestID), hb.Get(echo.HeaderXRequestID)
			if len(ha[echo.HeaderXRequestID]) != 1 || ra == "" || ra == rb && tc.rid == "" || tc.rid != "" && (ra != tc.rid || rb != tc.rid) {
				t.Fatalf("request ids %q and %q", ra, rb)
			}
			delete(ha, echo.HeaderXRequestID)
			delete(hb, echo.HeaderXRequestID)
			if tc.want != 413 { // the 413 page carries its own headers, as through echo
				for _, v := range documentHeaders(false) {
					if ha.Get(v.name) != v.value[0] {
						t.Errorf("%s = %q, want %q", v.name, ha.Get(v.name), v.value[0])
					}
				}
			}
			if !equalHeaders(ha, hb) {
				t.Fatalf("headers ahead of echo\n%v\nthrough echo\n%v", ha, hb)
			}
			la, ida := accessLines(t, outDirect.String())
			lb, _ := accessLines(t, outEcho.String())
			if len(la) != 1 || len(lb) != 1 || ida[0] != ra {
				t.Fatalf("access lines %v (ids %v, answered %s) and %v", la, ida, ra, lb)
			}
			want := map[string]any{"level": "INFO", "msg": "http", "method": tc.method, "path": "/doc", "status": tc.logged, "ip": "192.0.2.7"}
			if !equalJSON(la[0], want) || !equalJSON(lb[0], want) {
				t.Fatalf("access lines %v and %v, want %v", la[0], lb[0], want)
			}
			wantSeen := "/doc " + tc.method + " " + http.StatusText(int(tc.logged))
			if sa, sb := obsDirect.take(), obsEcho.take(); len(sa) != 1 || sa[0] != wantSeen || len(sb) != 1 || sb[0] != wantSeen {
				t.Fatalf("observed %v and %v, want %q", sa, sb, wantSeen)
			}
		})
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if strings.Join(va, "\n") != strings.Join(vb, "\n") || len(va) != len(vb) {
			return false
		}
	}
	return true
}

func equalJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestDocumentPanics: a document's panic ahead of echo is what it is through echo: 500 (a page,
// with the security headers and the request id), logged with its stack and the request id,
// one access line at error level; http.ErrAbortHandler is passed on to net/http.
func TestDocumentPanics(t *testing.T) {
	var out safeBuffer
	var obs observed
	rt := newDocRouter(t, &out, &obs)
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	h := rec.Header()
	rid := h.Get(echo.HeaderXRequestID)
	if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || rid == "" ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") == "" {
		t.Fatalf("panic answered %d %v", rec.Code, h)
	}
	var panics, lines int
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %s", l)
		}
		switch m["msg"] {
		case "panic recovered":
			panics++
			if m["err"] != "kaboom" || !strings.Contains(m["stack"].(string), "documents_test.go") || m["request_id"] != rid {
				t.Errorf("panic line %s", l)
			}
		case "http":
			lines++
			if m["status"] != float64(500) || m["level"] != "ERROR" || m["request_id"] != rid {
				t.Errorf("access line %s", l)
			}
		}
	}
	if panics != 1 || lines != 1 {
		t.Fatalf("%d panic lines, %d access lines:\n%s", panics, lines, out.String())
	}
	if seen := obs.take(); len(seen) != 1 || seen[0] != "/boom GET Internal Server Error" {
		t.Fatalf("observed %v", seen)
	}
	abort := New(RouterConfig{Logger: logging.New(&out, logging.FormatJSON, slog.LevelInfo), Documents: map[string]http.Handler{
		"/abort": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })}})
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("ErrAbortHandler not passed on: %v", p)
			}
		}()
		abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/abort", nil))
	}()
}

// TestDocumentsSkipEcho: a document is answered without echo's context, router and the
// request's copy (the reason for the way in ahead of it): fewer allocations than the same
// request through echo, within a budget; other paths still reach echo's routes.
func TestDocumentsSkipEcho(t *testing.T) {
	var out safeBuffer
	rt := newDocRouter(t, &out, nil)
	rt.Echo.GET("/page", func(c echo.Context) error { return c.String(http.StatusOK, "page") })
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/page", nil))
	if rec.Code != 200 || rec.Body.String() != "page" {
		t.Fatalf("/page: %d %s", rec.Code, rec.Body)
	}
	if testing.Short() {
		return
	}
	warn := New(RouterConfig{Logger: logging.New(&out, logging.FormatJSON, slog.LevelWarn), Documents: map[string]http.Handler{"/doc": testDocument}})
	allocs := func(h http.Handler) float64 {
		req := httptest.NewRequest(http.MethodGet, "/doc", nil)
		rec := httptest.NewRecorder()
		return testing.AllocsPerRun(200, func() {
			clear(rec.Header())
			rec.Body.Reset()
			h.ServeHTTP(rec, req)
		})
	}
	direct, viaEcho := allocs(warn), allocs(warn.Echo)
	t.Logf("allocations per document: %v ahead of echo, %v through it", direct, viaEcho)
	if direct > viaEcho-3 || direct > 5 {
		t.Fatalf("%v allocations per document ahead of echo (through echo %v): budget 5 and 3 fewer", direct, viaEcho)
	}
}

// TestRouterServesEchoRoutesThroughTheFrame: a request for an echo route through the Router
// (the server's handler) passes the frame as it does through echo itself (the same status,
// body, security headers, request id and access line for a route, a missing route, a wrong
// method and a panicking handler), with one allocation fewer: echo's per-request closure
// wrapping the route's handler in the frame.
func TestRouterServesEchoRoutesThroughTheFrame(t *testing.T) {
	var out safeBuffer
	rt := newDocRouter(t, &out, nil)
	rt.Echo.GET("/page", func(c echo.Context) error { return c.String(http.StatusOK, "page") })
	rt.Echo.GET("/panic", func(echo.Context) error { panic("kaboom") })
	for _, tc := range []struct {
		method, path string
		want         int
	}{{"GET", "/page", 200}, {"GET", "/nowhere", 404}, {"POST", "/page", 405}, {"GET", "/panic", 500}} {
		serve := func(h http.Handler) (*httptest.ResponseRecorder, string) {
			before := len(out.String())
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set(echo.HeaderXRequestID, "rid-1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			lines, ids := accessLines(t, out.String()[before:])
			return rec, fmt.Sprint(lines, ids)
		}
		a, la := serve(rt)
		b, lb := serve(rt.Echo)
		if a.Code != tc.want || b.Code != tc.want || a.Body.String() != b.Body.String() {
			t.Fatalf("%s %s: %d %q through the Router, %d %q through echo, want %d", tc.method, tc.path, a.Code, a.Body, b.Code, b.Body, tc.want)
		}
		if !maps.EqualFunc(a.Header(), b.Header(), slices.Equal) || a.Header().Get(echo.HeaderXRequestID) != "rid-1" ||
			a.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s %s: headers %v through the Router, %v through echo", tc.method, tc.path, a.Header(), b.Header())
		}
		if la != lb || !strings.Contains(la, "rid-1") {
			t.Fatalf("%s %s: access lines %q through the Router, %q through echo", tc.method, tc.path, la, lb)
		}
	}
	if testing.Short() {
		return
	}
	allocs := func(h http.Handler) float64 {
		req := httptest.NewRequest(http.MethodGet, "/page", nil)
		rec := httptest.NewRecorder()
		return testing.AllocsPerRun(200, func() {
			clear(rec.Header())
			rec.Body.Reset()
			h.ServeHTTP(rec, req)
		})
	}
	viaRouter, viaEcho := allocs(rt), allocs(rt.Echo)
	if viaRouter > viaEcho-1 {
		t.Fatalf("%v allocations per route request through the Router, %v through echo: want at least 1 fewer", viaRouter, viaEcho)
	}
}

// TestDocumentsNamedWhenLogged: a document's answer carries X-Request-Id exactly when its
// request is logged, ahead of echo and through it alike. At info (every answer has its access
// line) it is named, with the caller's id kept; at warn, GET, HEAD, a conditional 304, a 405
// and a client gone write no line and carry no id, the caller's neither; an answer the frame
// makes of an error (a panic's 500, a body too large) is named at any level, with the id its
// lines carry; a 500 the handler answers itself is logged with an id of its own.
func TestDocumentsNamedWhenLogged(t *testing.T) {
	failing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	notModified := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) })
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		for _, tc := range []struct {
			name, method, path, rid, body string
			length                        int64
			gone                          bool
			want                          int
			named                         bool // at warn (at info every answer is named)
			logged                        bool // at warn
		}{
			{name: "get", method: http.MethodGet, path: "/doc", want: 200},
			{name: "caller's id", method: http.MethodGet, path: "/doc", rid: "from-the-proxy", want: 200},
			{name: "head", method: http.MethodHead, path: "/doc", want: 200},
			{name: "not modified", method: http.MethodGet, path: "/304", want: 304},
			{name: "refused", method: http.MethodPost, path: "/doc", want: 405},
			{name: "client gone", method: http.MethodGet, path: "/doc", gone: true, want: 200},
			{name: "panic", method: http.MethodGet, path: "/boom", want: 500, named: true, logged: true},
			{name: "panic, caller's id", method: http.MethodGet, path: "/boom", rid: "from-the-proxy", want: 500, named: true, logged: true},
			{name: "too large", method: http.MethodPost, path: "/doc", body: "x=1", length: MaxRequestBody + 1, want: 413, named: true},
			{name: "handler's 500", method: http.MethodGet, path: "/fail", want: 500, logged: true},
		} {
			for _, via := range []string{"ahead of echo", "through echo"} {
				t.Run(fmt.Sprintf("%s %s %s", level, tc.name, via), func(t *testing.T) {
					var out safeBuffer
					var obs observed
					pages, err := NewRenderer(Brand{Name: "Test Association"})
					if err != nil {
						t.Fatal(err)
					}
					rt := New(RouterConfig{Renderer: pages, Logger: logging.New(&out, logging.FormatJSON, level), Requests: &obs,
						Documents: map[string]http.Handler{
							"/doc": testDocument, "/304": notModified, "/fail": failing,
							"/boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }),
						}})
					pages.Mount(rt.Echo)
					var h http.Handler = rt
					if via == "through echo" {
						h = rt.Echo
					}
					req := httptest.NewRequest(tc.method, tc.path, nil)
					if tc.body != "" {
						req = httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
						req.ContentLength = tc.length
					}
					if tc.rid != "" {
						req.Header.Set(echo.HeaderXRequestID, tc.rid)
					}
					if tc.gone {
						ctx, cancel := context.WithCancel(req.Context())
						cancel()
						req = req.WithContext(ctx)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != tc.want {
						t.Fatalf("answered %d, want %d", rec.Code, tc.want)
					}
					named, logged := tc.named, tc.logged
					if level == slog.LevelInfo {
						named, logged = true, true
					}
					ids := rec.Header()[echo.HeaderXRequestID]
					if named != (len(ids) == 1) || len(ids) > 1 || named && tc.rid != "" && ids[0] != tc.rid {
						t.Fatalf("X-Request-Id %q, want named: %v (caller's %q)", ids, named, tc.rid)
					}
					var lines []map[string]any
					var lineIDs []string
					if out.String() != "" {
						lines, lineIDs = accessLines(t, out.String())
					}
					if logged != (len(lines) == 1) || len(lines) > 1 {
						t.Fatalf("access lines %v, want logged: %v", lines, logged)
					}
					if logged && (lineIDs[0] == "" || named && lineIDs[0] != ids[0]) {
						t.Fatalf("access line's id %q, answer's %q", lineIDs[0], ids)
					}
					if strings.Contains(tc.name, "panic") && (!strings.Contains(out.String(), `"request_id":"`+ids[0]+`"`) ||
						!strings.Contains(out.String(), "panic recovered")) {
						t.Fatalf("panic line without the answer's id %q:\n%s", ids, out.String())
					}
					if seen := obs.take(); len(seen) != 1 {
						t.Fatalf("observed %v", seen)
					}
				})
			}
		}
	}
}

// TestDocumentAllocatesNothing: a document answered through the Router as a load run has it
// (the bridge's metrics as the observer, the access line not logged at warn) allocates nothing
// of the frame's: what a document request allocates is net/http's alone (its request, its
// header maps), as for a plain net/http server (scripts/loadtest/floor). Every allocation a
// request makes brings the next collection closer, and a collection marks the bridge's whole
// live heap (bridge/heapfloor).
func TestDocumentAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	headers := []headerValue{{"Access-Control-Allow-Origin", []string{"*"}}, {"Cache-Control", []string{"public, max-age=3600"}},
		{"Etag", []string{`"abc"`}}, {"Content-Type", []string{"application/json"}}}
	doc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, v := range headers {
			h[v.name] = v.value
		}
		if r.Header.Get("If-None-Match") == `"abc"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	})
	var out safeBuffer
	for _, https := range []bool{false, true} {
		rt := New(RouterConfig{HTTPS: https, Logger: logging.New(&out, logging.FormatJSON, slog.LevelWarn),
			Requests: metrics.New(metrics.BuildInfo{}), Documents: map[string]http.Handler{"/doc": doc}})
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			for _, conditional := range []bool{false, true} {
				req := httptest.NewRequest(method, "/doc", nil)
				if conditional {
					req.Header.Set("If-None-Match", `"abc"`)
				}
				w := &discardWriter{h: http.Header{}}
				rt.ServeHTTP(w, req) // the observer's series made once
				if n := testing.AllocsPerRun(200, func() {
					clear(w.h)
					rt.ServeHTTP(w, req)
				}); n != 0 {
					t.Errorf("https=%v %s conditional=%v: %v allocations per document request, want 0", https, method, conditional, n)
				}
			}
		}
	}
	if out.String() != "" {
		t.Fatalf("logged at warn: %s", out.String())
	}
}
