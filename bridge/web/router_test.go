package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
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

// TestStaticHead (s23, left by Q4): the theme stylesheet and the static files answer HEAD as
// GET (RFC 9110 9.3.2), with the same status and type, over a real server that sends no body;
// before, 405. POST stays refused, naming GET and HEAD.
func TestStaticHead(t *testing.T) {
	srv := httptest.NewServer(newTestRouter(t, false))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/theme.css", "/static/style.css", "/static/logout.js"} {
		get, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if get.StatusCode != http.StatusOK || head.StatusCode != http.StatusOK || len(body) != 0 ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Fatalf("%s: GET %d %q, HEAD %d %q with %d body bytes; want HEAD as GET, 200, no body",
				path, get.StatusCode, get.Header.Get("Content-Type"), head.StatusCode, head.Header.Get("Content-Type"), len(body))
		}
		post, err := http.Post(srv.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		post.Body.Close()
		if post.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s: POST %d, want 405", path, post.StatusCode)
		}
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

// TestRequestIDs: every response names its request (X-Request-Id, 16 base64url characters),
// its one log line carries the same id, ids never repeat over many concurrent requests, two
// routers (two processes) draw different prefixes, and a caller's own X-Request-Id is kept.
func TestRequestIDs(t *testing.T) {
	var logged safeBuffer
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	e := NewRouter(RouterConfig{Renderer: r, Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
	e.GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	const workers, each = 8, 2000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ok", nil))
				ids[w] = append(ids[w], rec.Header().Get(echo.HeaderXRequestID))
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if len(id) != 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				t.Fatalf("request id %q", id)
			}
			if seen[id] {
				t.Fatalf("request id %q repeated", id)
			}
			seen[id] = true
		}
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != workers*each {
		t.Fatalf("%d log lines for %d requests", len(lines), workers*each)
	}
	for _, l := range lines {
		var v struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil || !seen[v.RequestID] {
			t.Fatalf("log line %s: not one request's id", l)
		}
		delete(seen, v.RequestID) // each id on one line
	}
	if a, b := newRequestIDs().next()[0], newRequestIDs().next()[0]; a[:8] == b[:8] {
		t.Fatalf("two routers share a prefix: %s %s", a, b)
	}
	req := httptest.NewRequest(http.MethodGet, "/ok", nil)
	req.Header.Set(echo.HeaderXRequestID, "from-the-proxy")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if got := rec.Header().Get(echo.HeaderXRequestID); got != "from-the-proxy" {
		t.Fatalf("caller's request id replaced by %q", got)
	}
	// A caller's id that is too long or carries characters outside the safe set is replaced
	// by a new one: it would be echoed on the response and written into the log line.
	for _, bad := range []string{strings.Repeat("a", 65), "two words", "line\r\nforged=1", `quote"d`, "caf\u00e9"} {
		logged.b.Reset()
		req := httptest.NewRequest(http.MethodGet, "/ok", nil)
		req.Header.Set(echo.HeaderXRequestID, bad)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		got := rec.Header().Get(echo.HeaderXRequestID)
		if got == bad || len(got) != 16 {
			t.Fatalf("caller's request id %q kept as %q", bad, got)
		}
		if strings.Contains(logged.String(), bad) {
			t.Fatalf("caller's request id %q logged: %s", bad, logged.String())
		}
	}
	for _, good := range []string{strings.Repeat("a", 64), "3f2c9a1e-7d4b-4c1a-9e8f-0123456789ab", "lb-1:req.42_x"} {
		req := httptest.NewRequest(http.MethodGet, "/ok", nil)
		req.Header.Set(echo.HeaderXRequestID, good)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if got := rec.Header().Get(echo.HeaderXRequestID); got != good {
			t.Fatalf("caller's request id %q replaced by %q", good, got)
		}
	}
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRouterRecoversPanics: a handler's panic answers 500 (a page, with the security headers
// and the request id), is logged with its stack, and the request still gets its one line;
// http.ErrAbortHandler is passed on to net/http, which drops the connection quietly.
func TestRouterRecoversPanics(t *testing.T) {
	var logged safeBuffer
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	e := NewRouter(RouterConfig{Renderer: r, Logger: logging.New(&logged, logging.FormatJSON, slog.LevelInfo)})
	e.GET("/boom", func(echo.Context) error { panic("kaboom") })
	e.GET("/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	h := rec.Header()
	if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("panic answered %d %s", rec.Code, h.Get("Content-Type"))
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") == "" || h.Get(echo.HeaderXRequestID) == "" {
		t.Fatalf("headers: %v", h)
	}
	var panics, lines int
	for _, l := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
		var v struct{ Msg, Stack, RequestID string }
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %s", l)
		}
		v.Msg, _ = m["msg"].(string)
		v.Stack, _ = m["stack"].(string)
		v.RequestID, _ = m["request_id"].(string)
		switch v.Msg {
		case "panic recovered":
			panics++
			if m["err"] != "kaboom" || !strings.Contains(v.Stack, "router_test.go") || v.RequestID != h.Get(echo.HeaderXRequestID) {
				t.Errorf("panic line %s", l)
			}
		case "http":
			lines++
			if m["status"] != float64(500) || m["level"] != "ERROR" || v.RequestID != h.Get(echo.HeaderXRequestID) {
				t.Errorf("request line %s", l)
			}
		}
	}
	if panics != 1 || lines != 1 {
		t.Fatalf("%d panic lines, %d request lines:\n%s", panics, lines, logged.String())
	}
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("ErrAbortHandler not passed on: %v", p)
			}
		}()
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/abort", nil))
	}()
}

// TestSecurityHeadersByKind pins the security headers of each kind of response: pages (every
// route not listed otherwise, JSON errors of page routes included), the API routes
// (RouterConfig.APIRoutes) and the documents (RouterConfig.Documents, ahead of echo and
// through it), over http and https, with and without a route context (RouterConfig.RouteContexts
// on /api and /page-ctx); an error page on an API or document route gets the
// pages' set (its styles need the page CSP). Each header is present with its value or absent:
// a document's answer has nosniff (and HSTS) only.
func TestSecurityHeadersByKind(t *testing.T) {
	const (
		pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
		apiCSP  = "default-src 'none'; frame-ancestors 'none'"
	)
	page := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		"Cross-Origin-Opener-Policy": "same-origin", "Content-Security-Policy": pageCSP}
	api := map[string]string{"X-Content-Type-Options": "nosniff", "Content-Security-Policy": apiCSP, "X-Frame-Options": "DENY"}
	doc := map[string]string{"X-Content-Type-Options": "nosniff"} // no CSP: documentHeaders
	security := []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy",
		"Content-Security-Policy", "Strict-Transport-Security"}
	for _, https := range []bool{false, true} {
		pages, err := NewRenderer(Brand{Name: "Test Association"})
		if err != nil {
			t.Fatal(err)
		}
		same := func(_ echo.Context, ctx context.Context) context.Context { return ctx }
		rt := New(RouterConfig{HTTPS: https, Renderer: pages, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			APIRoutes: []string{"/api", "/api-boom"}, Documents: map[string]http.Handler{"/doc": testDocument},
			RouteContexts: map[string]ContextFunc{"/api": same, "/page-ctx": same}})
		pages.Mount(rt.Echo)
		json := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"a": "b"}) }
		rt.Echo.GET("/page", func(c echo.Context) error { return c.HTML(http.StatusOK, "<p>page</p>") })
		rt.Echo.GET("/page-json", json)
		rt.Echo.GET("/page-ctx", json)
		rt.Echo.POST("/api", json)
		rt.Echo.GET("/api-boom", func(echo.Context) error { panic("kaboom") })
		for _, tc := range []struct {
			name, method, path, accept string
			via                        http.Handler
			want                       map[string]string
			status                     int
		}{
			{"page", http.MethodGet, "/page", "", rt, page, 200},
			{"page route's JSON", http.MethodGet, "/page-json", "", rt, page, 200},
			{"page route with a context", http.MethodGet, "/page-ctx", "", rt, page, 200},
			{"JSON error of no route", http.MethodGet, "/nothing", "application/json", rt, page, 404},
			{"api", http.MethodPost, "/api", "", rt, api, 200},
			{"api JSON error", http.MethodGet, "/api", "application/json", rt, api, 405},
			{"api error page", http.MethodGet, "/api-boom", "", rt, page, 500},
			{"document", http.MethodGet, "/doc", "", rt, doc, 200},
			{"document through echo", http.MethodGet, "/doc", "", rt.Echo, doc, 200},
			{"document refused", http.MethodPost, "/doc", "", rt, doc, 405},
		} {
			t.Run(fmt.Sprintf("%s https=%v", tc.name, https), func(t *testing.T) {
				req := httptest.NewRequest(tc.method, tc.path, nil)
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				rec := httptest.NewRecorder()
				tc.via.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d", rec.Code, tc.status)
				}
				want := maps.Clone(tc.want)
				if https {
					want["Strict-Transport-Security"] = "max-age=31536000"
				}
				h := rec.Header()
				for _, name := range security {
					if got, ok := h[name]; ok != (want[name] != "") || ok && (len(got) != 1 || got[0] != want[name]) {
						t.Errorf("%s: %q, want %q", name, got, want[name])
					}
				}
				if h.Get(echo.HeaderXRequestID) == "" {
					t.Errorf("no request id: %v", h)
				}
			})
		}
	}
}

// TestRouteContexts: a route with a context function (RouterConfig.RouteContexts) gets its
// values in the request's context together with the frame's (log fields: the request id its
// response names), before the route's wrappers and handler run, with the client IP as the
// router decides it; the server's request is left as it was; other routes get nothing of it.
func TestRouteContexts(t *testing.T) {
	type key struct{}
	e := New(RouterConfig{TrustedProxies: []string{"10.0.0.0/8"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RouteContexts: map[string]ContextFunc{"/with/:id": func(c echo.Context, ctx context.Context) context.Context {
			return context.WithValue(ctx, key{}, "ip "+c.RealIP())
		}}}).Echo
	answer := func(c echo.Context) error {
		got, _ := c.Request().Context().Value(key{}).(string)
		rid, _, _ := logging.Of(c.Request().Context())
		return c.String(http.StatusOK, got+"|"+rid)
	}
	wrapped := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Context().Value(key{}) == nil {
				return c.String(http.StatusTeapot, "not in the wrapper's context")
			}
			return next(c)
		}
	}
	e.GET("/with/:id", wrapped(answer))
	e.GET("/without", answer)
	for _, tc := range []struct{ path, want string }{{"/with/7", "ip 203.0.113.7|"}, {"/without", "|"}} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.RemoteAddr = "10.0.0.1:1234"
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if want := tc.want + rec.Header().Get(echo.HeaderXRequestID); rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("%s: %d %q, want %q", tc.path, rec.Code, rec.Body, want)
		}
		if req.Context().Value(key{}) != nil {
			t.Errorf("%s: the server's request changed", tc.path)
		}
	}
}

// TestRequestIDBlocks: ids drawn from blocks (idsPerBlock per allocation) are unique and never
// change after they are handed out, drawn one after another and from many goroutines at once
// (each slot is written by the one request that drew its number), and cost an allocation per
// block, not per id.
func TestRequestIDBlocks(t *testing.T) {
	g := newRequestIDs()
	const workers, each = 8, 5*idsPerBlock + 3
	drawn := make([][][2]string, workers) // the id as handed out, and a copy made then
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id := g.next()[0]
				drawn[w] = append(drawn[w], [2]string{id, strings.Clone(id)})
			}
		}()
	}
	wg.Wait()
	for range each { // and in sequence
		id := g.next()[0]
		drawn[0] = append(drawn[0], [2]string{id, strings.Clone(id)})
	}
	seen := map[string]bool{}
	for _, list := range drawn {
		for _, d := range list {
			if d[0] != d[1] {
				t.Fatalf("id %q changed to %q after it was handed out", d[1], d[0])
			}
			if seen[d[0]] {
				t.Fatalf("id %q repeated", d[0])
			}
			seen[d[0]] = true
		}
	}
	if a := testing.AllocsPerRun(10*idsPerBlock, func() { _ = g.next() }); a > 2.0/idsPerBlock {
		t.Fatalf("%.3f allocations per id, want one per block of %d", a, idsPerBlock)
	}
}

// TestRequestDuration: the observer and the access line get how long the request took, through
// echo and for a document: at least the time its handler spent.
func TestRequestDuration(t *testing.T) {
	const pause = 20 * time.Millisecond
	obs := &durations{}
	var out safeBuffer
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(pause); w.WriteHeader(http.StatusNoContent) })
	rt := New(RouterConfig{Logger: slog.New(slog.NewJSONHandler(&out, nil)), Requests: obs, Documents: map[string]http.Handler{"/doc": slow}})
	rt.Echo.GET("/page", echo.WrapHandler(slow))
	for _, path := range []string{"/page", "/doc"} {
		rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if len(obs.took) != 2 || obs.took[0] < pause || obs.took[1] < pause || obs.took[0] > time.Minute || obs.took[1] > time.Minute {
		t.Fatalf("durations observed %v, want 2 of at least %v", obs.took, pause)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var v struct{ Duration time.Duration }
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.Duration < pause || v.Duration > time.Minute {
			t.Fatalf("access line %s: duration below %v", l, pause)
		}
	}
}

// durations is a RequestObserver that keeps the durations.
type durations struct {
	mu   sync.Mutex
	took []time.Duration
}

func (d *durations) ObserveRequest(_, _ string, _ int, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.took = append(d.took, took)
}

// TestRequestIDEncoding: a new request id is base64url (unpadded) of the router's 6-byte prefix
// and the 6 bytes of its mixed sequence number, big-endian, as requestIDs describes it, for
// sequence numbers across the 48 bits (every character position and value).
func TestRequestIDEncoding(t *testing.T) {
	g := newRequestIDs()
	prefix, err := base64.RawURLEncoding.DecodeString(string(g.head[:]))
	if err != nil || len(prefix) != 6 {
		t.Fatalf("head %q: %v", g.head, err)
	}
	for _, start := range []uint64{0, 1, idsPerBlock - 2, 1 << 20, 1<<47 - 3, 1<<48 - 5} {
		g.n.Store(start)
		for n := start + 1; n < start+130; n++ {
			id := g.next()[0]
			var raw [14]byte
			copy(raw[:6], prefix)
			binary.BigEndian.PutUint64(raw[6:], ((n*g.mul+g.add)&seqMask)<<16)
			if want := base64.RawURLEncoding.EncodeToString(raw[:12]); id != want {
				t.Fatalf("id %d: %q, want %q", n, id, want)
			}
		}
	}
}
