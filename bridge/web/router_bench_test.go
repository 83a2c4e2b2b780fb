package web

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
)

// BenchmarkRouterFrame measures what every request pays for the router's frame (request id,
// security headers, log fields, access line, panic guard) on top of net/http: a trivial route
// answering 1.5 KB of JSON through a real listener on 127.0.0.1 and one keep-alive
// connection, with the server's timeouts as cmd/ssobridge sets them. "floor" is plain net/http
// with the same body and one header (scripts/loadtest/floor); "info" and "warn" are the router
// with its access line logged (JSON, to io.Discard) and not; "document-*" the same answer as a
// document (RouterConfig.Documents), answered ahead of echo; "floor-headers" plain net/http
// answering as document-* do (the floor's header and the three the frame sets: nosniff, CSP,
// a request id) without the frame: document-warn minus floor-headers is the frame's own cost
// on the wire; "floor-document" plain net/http answering with the discovery document's seven
// headers (sso's four and the frame's three), which is what net/http costs for that
// response whatever the frame does. allocs/op and cpu-ns/op count the client too: read them
// against the floors of the same run.
func BenchmarkRouterFrame(b *testing.B) {
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	floor := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	frameHeaders := []headerValue{{"Content-Type", []string{"application/json"}},
		{"X-Content-Type-Options", []string{"nosniff"}}, {"Content-Security-Policy", []string{apiCSP}},
		{"X-Request-Id", []string{"Xq3v1Q9kAAAAAAAB"}}}
	docHeaders := append([]headerValue{{"Access-Control-Allow-Origin", []string{"*"}},
		{"Cache-Control", []string{"public, max-age=3600"}}, {"Etag", []string{`"aEfMd2L88c_5y6yRKXoEb63_"`}}}, frameHeaders...)
	withHeaders := func(headers []headerValue) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			for _, v := range headers {
				h[v.name] = v.value
			}
			_, _ = w.Write(body)
		})
	}
	router := func(level slog.Level) http.Handler {
		e := NewRouter(RouterConfig{Logger: logging.New(io.Discard, "json", level)})
		e.GET("/doc", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", body) })
		return e
	}
	document := func(level slog.Level) http.Handler {
		return New(RouterConfig{Logger: logging.New(io.Discard, "json", level), Documents: map[string]http.Handler{"/doc": floor}})
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"floor", floor}, {"floor-headers", withHeaders(frameHeaders)}, {"floor-document", withHeaders(docHeaders)}, {"info", router(slog.LevelInfo)}, {"warn", router(slog.LevelWarn)},
		{"document-info", document(slog.LevelInfo)}, {"document-warn", document(slog.LevelWarn)}} {
		b.Run(bc.name, func(b *testing.B) { benchListener(b, bc.h, "/doc") })
	}
}

// BenchmarkServerTimeouts measures what the server's timeouts cost per keep-alive request
// (net/http sets a connection's read and write deadlines several times per request: each
// one a runtime timer started, moved or stopped), on the floor's handler: none set; the
// timeouts before session 10 (read header 10 s, read 30 s, write 30 s, idle 120 s); read
// header and read timeouts equal (older net/http set the read deadline once for both); the
// timeouts of today through LazyDeadlines (as cmd/ssobridge serves: no runtime timer per
// deadline).
func BenchmarkServerTimeouts(b *testing.B) {
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	floor := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	for _, bc := range []struct {
		name                        string
		readHeader, read, write, id time.Duration
		lazy                        bool
	}{
		{"none", 0, 0, 0, 0, false},
		{"10-30-30-120", 10 * time.Second, 30 * time.Second, 30 * time.Second, 120 * time.Second, false},
		{"20-20-30-120", 20 * time.Second, 20 * time.Second, 30 * time.Second, 120 * time.Second, false},
		{"10-30-30-120-lazy", 10 * time.Second, 30 * time.Second, 30 * time.Second, 120 * time.Second, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &http.Server{Handler: floor, ReadHeaderTimeout: bc.readHeader, ReadTimeout: bc.read,
				WriteTimeout: bc.write, IdleTimeout: bc.id}
			if bc.lazy {
				benchServerOn(b, srv, "/doc", func(ln net.Listener) net.Listener { return LazyDeadlines(ln, DeadlineTick) })
				return
			}
			benchServer(b, srv, "/doc")
		})
	}
}

// benchListener serves h on 127.0.0.1 and GETs path b.N times over one keep-alive connection.
func benchListener(b *testing.B, h http.Handler, path string) {
	benchServer(b, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}, path)
}

// benchServer serves srv on 127.0.0.1 and GETs path b.N times over one keep-alive connection.
func benchServer(b *testing.B, srv *http.Server, path string) { benchServerOn(b, srv, path, nil) }

// benchServerOn is benchServer with the listener wrapped by wrap (if not nil).
func benchServerOn(b *testing.B, srv *http.Server, path string, wrap func(net.Listener) net.Listener) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := ln
	if wrap != nil {
		served = wrap(ln)
	}
	go func() { _ = srv.Serve(served) }()
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	raw := []byte("GET " + path + " HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReader(conn)
	get := func() {
		if _, err := conn.Write(raw); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	get()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchcpu.Start()
	for i := 0; i < b.N; i++ {
		get()
	}
	cpu.Report(b)
}

// BenchmarkDocumentFrame measures the frame around a document without net/http or a socket:
// "handler" is a document's handler alone (four shared header values and 1.5 KB written to a
// recorder whose header map is cleared per request), "frame" the same through Router.ServeHTTP
// (request id, security headers, status recorder, panic guard, access line check), and
// "frame-metrics" with the bridge's metrics as the observer (one counter and one histogram
// series per route, method and status). The differences are what the frame costs a document.
func BenchmarkDocumentFrame(b *testing.B) {
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	headers := []headerValue{{"Access-Control-Allow-Origin", []string{"*"}}, {"Cache-Control", []string{"public, max-age=3600"}},
		{"Etag", []string{`"abc"`}}, {"Content-Type", []string{"application/json"}}}
	doc := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for _, v := range headers {
			h[v.name] = v.value
		}
		_, _ = w.Write(body)
	})
	log := logging.New(io.Discard, "json", slog.LevelWarn)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"handler", doc},
		{"frame", New(RouterConfig{Logger: log, Documents: map[string]http.Handler{"/doc": doc}})},
		{"frame-metrics", New(RouterConfig{Logger: log, Requests: metrics.New(metrics.BuildInfo{}),
			Documents: map[string]http.Handler{"/doc": doc}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/doc", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			cpu := benchcpu.Start()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
			cpu.Report(b)
		})
	}
}

// discardWriter is a ResponseWriter that keeps its header map and drops the body.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRouteFrame measures the frame around a route served through echo, without net/http
// or a socket, as the token endpoint is: a POST with a form body to an API route with a route
// context (RouterConfig.APIRoutes and RouteContexts), answering 1.5 KB of JSON. "handler" is
// the route's handler alone (echo's context made by hand), "frame" the same through
// Router.ServeHTTP (echo's router, request id, API headers, log fields, the request's copy
// with its context, body bound, panic guard, access line check), "frame-metrics" with the
// bridge's metrics as the observer. The differences are what the frame costs a route.
func BenchmarkRouteFrame(b *testing.B) {
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	handler := func(c echo.Context) error {
		if c.Request().Context().Value(benchKey{}) == nil {
			return errors.New("no route context")
		}
		c.Response().Header()["Cache-Control"] = []string{"no-store"}
		return c.Blob(http.StatusOK, "application/json", body)
	}
	routeCtx := func(_ echo.Context, ctx context.Context) context.Context {
		return context.WithValue(ctx, benchKey{}, true)
	}
	log := logging.New(io.Discard, "json", slog.LevelWarn)
	router := func(obs RequestObserver) http.Handler {
		rt := New(RouterConfig{Logger: log, Requests: obs, APIRoutes: []string{"/token"},
			RouteContexts: map[string]ContextFunc{"/token": routeCtx}})
		rt.Echo.POST("/token", handler)
		return rt
	}
	e := echo.New()
	alone := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := e.AcquireContext()
		c.Reset(r.WithContext(routeCtx(c, r.Context())), w)
		_ = handler(c)
		e.ReleaseContext(c)
	})
	form := "grant_type=refresh_token&refresh_token=" + strings.Repeat("t", 60)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"handler", alone},
		{"frame", router(nil)},
		{"frame-metrics", router(metrics.New(metrics.BuildInfo{}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			body := strings.NewReader(form)
			req := httptest.NewRequest(http.MethodPost, "/token", body)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			b.ReportAllocs()
			cpu := benchcpu.Start()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				body.Reset(form)
				bc.h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatal(w.status)
				}
			}
			cpu.Report(b)
		})
	}
}

type benchKey struct{}
