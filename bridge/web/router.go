package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/sso"
)

// Mounter is a part of the web side: it adds its routes to the router.
type Mounter interface {
	Mount(e *echo.Echo)
}

// RouterConfig is what the router is built from.
type RouterConfig struct {
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed (none: the TCP peer is the client).
	TrustedProxies []string
	// HTTPS adds Strict-Transport-Security.
	HTTPS    bool
	Renderer *Renderer
	Logger   *slog.Logger
	// Requests, when set, is told about every request (metrics).
	Requests RequestObserver
	// Documents are fixed public documents by exact path (the discovery document, the JWKS),
	// served by handlers that read no body, log nothing and need neither echo's context nor
	// the request's log fields: Router.ServeHTTP answers them ahead of echo's router. Their
	// answers carry the documents' security headers (documentHeaders), and X-Request-Id only
	// when the request's access line is logged or the frame answers with an error page
	// (frame.document).
	Documents map[string]http.Handler
	// StoreBudget, when above zero, is how long the store calls of one request may wait in
	// all (store.WithBudget; the PostgreSQL store's statement timeout): a request that calls
	// the store twice in a row waits once for a store that hangs, not twice.
	StoreBudget time.Duration
	// APIRoutes are the routes (registered paths, such as /oauth/token) of the JSON endpoints
	// that programs call (token, UserInfo, introspection, revocation, device authorization):
	// their responses get the API security headers (apiHeaders) instead of the pages'.
	APIRoutes []string
	// RouteContexts add to a route's requests (by registered path, as APIRoutes) what its
	// handler needs in the request's context beyond the frame's log fields and store budget
	// (the protocol routes: the client IP and the member memo). The frame calls the function
	// with the context it made and puts the result in its one copy of the request, before the
	// route's handler and its wrappers run: the handler need not copy the request again
	// (http.Request.WithContext, about 250 bytes) to add its own values.
	RouteContexts map[string]ContextFunc
}

// ContextFunc returns ctx (the request's context as the frame made it) with what a route's
// handler needs added; c is the request's echo context (its client IP, its route; its request
// is still the one the server gave, without ctx). It runs outside the frame's panic guard:
// it only adds values.
type ContextFunc func(c echo.Context, ctx context.Context) context.Context

// RequestObserver is told about each request: its route template (the registered path, such
// as /oauth/token or /demo-ams/*; "" when no route matched), method, status and duration.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

// RouteObserver is a RequestObserver that resolves a route ahead: New asks it once for each
// document's route (RouterConfig.Documents) and the frame tells the function it returns about
// each of their requests, the most frequent the bridge serves, so that the observer does not
// find the route's series by its name (a hash of the route and the method) per request.
type RouteObserver interface {
	RequestObserver
	// ObserveRoute returns what ObserveRequest(route, ...) would do, for route alone.
	ObserveRoute(route string) func(method string, status int, took time.Duration)
}

// NewRouter builds the echo router with the shared middleware and error handling; the parts
// are mounted on it afterwards. It is New's router without the documents' way in ahead of
// echo (Router.ServeHTTP): serve New's Router where the documents matter.
func NewRouter(cfg RouterConfig) *echo.Echo { return New(cfg).Echo }

// Router is the bridge's HTTP handler: the echo router with the frame (every route), and the
// documents (RouterConfig.Documents) answered ahead of echo's router through the same frame.
type Router struct {
	// Echo is the router the parts are mounted on. It answers the documents' paths too (for
	// callers that serve it directly, and requests the way in ahead of it leaves to it).
	// Mount routes on it, nothing else: ServeHTTP finds the route in echo's context and runs
	// the frame on it itself, so middleware added with Echo.Use or Echo.Pre would not run.
	Echo *echo.Echo
	f    *frame
	docs []document
}

// document is a fixed public document's route.
type document struct {
	path string
	h    http.Handler
	// observe is the observer's function for path (RouteObserver; nil: none, or one that
	// resolves no routes ahead).
	observe func(method string, status int, took time.Duration)
}

// New builds the router: echo with the frame and error handling, and the documents mounted on
// it (any method: their handlers answer the methods they do not take) and ahead of it.
func New(cfg RouterConfig) *Router {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = IPExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = errorHandler(cfg.Renderer, cfg.Logger, pageHeaders(cfg.HTTPS))
	f := &frame{log: cfg.Logger, obs: cfg.Requests, ids: newRequestIDs(), storeBudget: cfg.StoreBudget, echo: e,
		pages: pageHeaders(cfg.HTTPS), documents: documentHeaders(cfg.HTTPS), routes: map[string]route{}, epoch: time.Now()}
	f.writers.New = func() any { return new(statusWriter) }
	e.Use(f.middleware)
	rt := &Router{Echo: e, f: f}
	api := apiHeaders(cfg.HTTPS)
	for _, path := range cfg.APIRoutes {
		f.routes[path] = route{headers: api}
	}
	for _, path := range slices.Sorted(maps.Keys(cfg.Documents)) {
		h := cfg.Documents[path]
		Any(e, path, direct(h))
		f.routes[path] = route{headers: f.documents, namedWhenLogged: true}
		d := document{path: path, h: h}
		if ro, ok := cfg.Requests.(RouteObserver); ok {
			d.observe = ro.ObserveRoute(path)
		}
		rt.docs = append(rt.docs, d)
	}
	for path, fn := range cfg.RouteContexts {
		rc := f.routes[path]
		rc.context = fn
		f.routes[path] = rc
	}
	return rt
}

// route is what the frame does for a route of its own (RouterConfig.APIRoutes, Documents,
// RouteContexts): the security headers its responses get (apiHeaders, documentHeaders; nil:
// the pages'), the context it adds (nil: none) and whether its answers carry X-Request-Id
// only when the request is logged (namedWhenLogged: the documents) rather than always.
type route struct {
	headers         []headerValue
	context         ContextFunc
	namedWhenLogged bool
}

// direct serves h with the request as it is.
func direct(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// ServeHTTP answers a request for a document (its exact path, no body) through the frame
// without echo (its context, router and the request's copy with log fields: a document's
// handler logs nothing and needs neither), and every other request through echo's router and
// the frame as echo.ServeHTTP would with the frame its only middleware (New's e.Use), without
// the closure echo makes per request to wrap the route's handler in it (applyMiddleware): the
// route is found in echo's context and the frame serves it. New registers no other middleware
// (premiddleware, per-host routers): nothing is mounted through them, and the frame is the one
// place every request passes.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 && (r.Body == nil || r.Body == http.NoBody) && r.URL.RawPath == "" {
		for i := range rt.docs {
			if d := &rt.docs[i]; d.path == r.URL.Path {
				rt.f.document(w, r, d)
				return
			}
		}
	}
	e := rt.Echo
	c := e.AcquireContext()
	c.Reset(r, w)
	e.Router().Find(r.Method, echo.GetPath(r), c)
	if err := rt.f.serve(c, c.Handler()); err != nil {
		e.HTTPErrorHandler(err, c) // (serve answers its errors itself: as echo.ServeHTTP would)
	}
	e.ReleaseContext(c)
}

// IPExtractor decides the client IP: the TCP peer, or with trusted proxies the first address in
// X-Forwarded-For that is not one of them.
func IPExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		if _, n, err := net.ParseCIDR(p); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// frame is the middleware every request passes through, in one function (echo wraps the
// route's handler in each middleware anew for every request: one closure here instead of
// three). In order, what were echo's RequestID, requestLog, echo's Recover and
// securityHeaders: it names the request (X-Request-Id: the caller's, or a new one; a
// document's answer only when it is logged), sets the
// security headers of the route's kind (pages, API, documents), puts the request's log fields
// (package logging) in its context, runs the handler turning a panic into a 500, then tells
// the observer (if any) and logs one line.
type frame struct {
	log *slog.Logger
	obs RequestObserver
	ids *requestIDs
	// routes are the routes (registered paths) with security headers other than the pages'
	// (RouterConfig.APIRoutes: apiHeaders; the documents': documents) or a context of their
	// own (RouterConfig.RouteContexts); every other route gets pages. The headers are set
	// before the handler runs (it may change them: the front-channel logout page widens the
	// CSP).
	routes           map[string]route
	pages, documents []headerValue
	// storeBudget: RouterConfig.StoreBudget.
	storeBudget time.Duration
	// epoch is when the router was made: a request's duration is read off the monotonic clock
	// since then (clock).
	epoch time.Time
	// echo is the router: its client IP and error handler serve the documents too.
	echo *echo.Echo
	// writers are the documents' status recorders, reused.
	writers sync.Pool
}

// headerValue is a response header set on every response. The value slice (length and
// capacity 1) is built once and shared by every response (Header.Set replaces it, Header.Add
// copies it on append), instead of one allocation per header per request.
type headerValue struct {
	name  string // canonical form, as Header.Set would make it
	value []string
}

// MaxRequestBody bounds every request body (1 MiB): the page forms read their fields with
// echo's FormValue, which would otherwise parse up to 10 MB of a urlencoded body into memory,
// and a multipart one 32 MB into memory and the rest into temporary files, for any anonymous
// caller and before any check. The largest bodies the bridge takes (SAML messages, passkey
// ceremonies, console forms) are a few KB; API endpoints bound theirs lower (64 KB). A body
// declared larger is answered 413 unread; one streamed past it stops being read there.
const MaxRequestBody = 1 << 20

// StatusClientGone is the status the access line and the metrics record for a request whose
// client went away before it was answered (nginx's 499, "client closed request"); nothing is
// sent.
const StatusClientGone = 499

// accessLevel is the level of a request's access line: a 503 says that something the bridge
// depends on (the store, the AMS) is unavailable, which its own warning has said once already
// and which is expected while it is away, so it is a warning; any other 5xx is an error.
func accessLevel(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// The security headers, per kind of response, decided header by header (each value built
// once and shared: no allocation per response). A response's header map holds them, the
// handler's own headers and X-Request-Id; at up to 8 entries Go's map stays one small group,
// which net/http clones when the status is written, sorts and writes: the 9th entry makes it
// a table (the map and its clone: 1.1 KB and 5 allocations more per response). So each set is
// what has an effect on its kind of response, and no more.
const (
	// pageCSP: the pages load their script, styles and images from the bridge only (images
	// also data: and https: for a brand's logo), connect to it only, post forms to it, and may
	// not be framed (frame-ancestors) or rebased.
	pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	// apiCSP is the CSP of a response that is not a page (OWASP REST Security Cheat Sheet,
	// Security Headers): nothing may load or run if a browser ever rendered it, and no page
	// may frame it.
	apiCSP = "default-src 'none'; frame-ancestors 'none'"
	// hsts: browsers reach the issuer over https only for a year (an https issuer only).
	hsts = "max-age=31536000"
)

// pageHeaders are the security headers of the pages (HTML, redirects, and everything that is
// neither an API route nor a document, JSON errors included): the page CSP; nosniff (no
// response is read as another type than it says); Referrer-Policy no-referrer (a page's links,
// forms and redirects carry no URL of the bridge, whose query strings can hold codes and
// hints); X-Frame-Options DENY (frame-ancestors for browsers without CSP 2); COOP
// same-origin (a page opened from another site keeps no window handle to it: the login page
// is not scriptable from its opener); HSTS over https.
func pageHeaders(https bool) []headerValue {
	return withHSTS(https, []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Content-Security-Policy", []string{pageCSP}},
	})
}

// apiHeaders are the security headers of the API routes' responses (RouterConfig.APIRoutes:
// JSON for programs, carrying tokens and member data, never meant to be rendered), the set
// of the OWASP REST Security Cheat Sheet; the handler sets Content-Type and Cache-Control
// (no-store) itself:
//   - X-Content-Type-Options nosniff: a browser reads the response as the JSON it says it is,
//     never as script, style or a page (and cross-origin read blocking applies to it);
//   - Content-Security-Policy apiCSP: frame-ancestors 'none' keeps any page from framing a
//     response with a member's tokens or claims (drag-and-drop clickjacking), and
//     default-src 'none' lets nothing load or run should a browser ever render it;
//   - X-Frame-Options DENY: the same for browsers older than CSP 2 (frame-ancestors);
//   - HSTS over https (it is the host's policy: any response may be the first a browser sees).
//
// Left out, with no effect on a response that is not rendered: Referrer-Policy (a JSON
// response has no links, forms or subresources that would send a Referer, and the API routes
// do not redirect) and Cross-Origin-Opener-Policy (it governs a page's window and its opener;
// a JSON response is not opened as a window by its callers). The page CSP's script, style,
// image and connect sources mean nothing for a document that runs nothing.
func apiHeaders(https bool) []headerValue {
	return withHSTS(https, []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Content-Security-Policy", []string{apiCSP}},
		{"X-Frame-Options", []string{"DENY"}},
	})
}

// documentHeaders are the security headers of the public documents (RouterConfig.Documents:
// discovery and JWKS: public, anonymous, cacheable JSON that any origin may read; their
// handler sends Access-Control-Allow-Origin *, Cache-Control, ETag and Content-Type):
//   - X-Content-Type-Options nosniff: a browser takes them for the JSON they say they are,
//     never for script, a style sheet or a page (OWASP REST Security: nosniff with the JSON
//     type on every JSON response);
//   - HSTS over https (the host's policy: any response may be the first a browser sees).
//
// Left out, as having no effect on these two documents:
//   - Content-Security-Policy: it restricts what a rendered document loads and runs, and which
//     pages may frame it. A document served as application/json with nosniff is never
//     rendered as a page (a browser that opens one shows it as text or in its own JSON
//     viewer, which runs none of the document's content), loads nothing and runs nothing; and
//     framing it reveals or risks nothing: it holds nothing that is not public to every origin
//     through CORS already, and has nothing to click.
//   - X-Frame-Options: the same as frame-ancestors above.
//   - Referrer-Policy and Cross-Origin-Opener-Policy, as for the API (apiHeaders).
//
// X-Request-Id is set only when the request's access line is logged (namedWhenLogged): it
// exists to find a response's log line, and at log.level warn a document answered 200, 304
// or 405 writes none. Each header the handler's map holds costs about 1,500 instructions per
// response in net/http (the map cloned, sorted, validated, written), for every one of the
// most frequent requests the bridge serves.
func documentHeaders(https bool) []headerValue {
	return withHSTS(https, []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
	})
}

// withHSTS adds Strict-Transport-Security to headers for an https issuer.
func withHSTS(https bool, headers []headerValue) []headerValue {
	if https {
		headers = append(headers, headerValue{"Strict-Transport-Security", []string{hsts}})
	}
	return headers
}

// middleware is f as echo's middleware.
func (f *frame) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return f.serve(c, next) }
}

func (f *frame) serve(c echo.Context, next echo.HandlerFunc) error {
	start := f.clock()
	r := c.Request()
	rc := f.routes[c.Path()]
	headers := rc.headers
	if headers == nil {
		headers = f.pages
	}
	h := c.Response().Header()
	for _, v := range headers {
		h[v.name] = v.value
	}
	// The request's id, in its log fields (a document's through echo too: its error page's
	// lines carry it); a document's answer is named as ahead of echo (document).
	id := f.requestID(r)
	named := !rc.namedWhenLogged || f.log.Enabled(r.Context(), slog.LevelInfo)
	if named {
		h[echo.HeaderXRequestID] = id
	}
	rid := id[0]
	ctx := logging.WithRequest(r.Context(), rid)
	if f.storeBudget > 0 {
		ctx = store.WithBudget(ctx, f.storeBudget)
	}
	if rc.context != nil {
		ctx = rc.context(c, ctx)
	}
	r2 := r.WithContext(ctx)
	var err error
	if r.ContentLength > MaxRequestBody {
		err = echo.NewHTTPError(http.StatusRequestEntityTooLarge) // not read
	} else if r.ContentLength < 0 && r2.Body != nil && r2.Body != http.NoBody {
		// A body of unknown length (chunked) is cut at MaxRequestBody. One of a declared
		// length is not wrapped (an allocation per request, and a layer on every read): the
		// server reads no more than the length it declared (net/http: its body is a
		// LimitReader of that length; HTTP/2: more data than declared fails the stream), and
		// a declared length above MaxRequestBody is refused above.
		r2.Body = http.MaxBytesReader(c.Response().Writer, r2.Body, MaxRequestBody) // the server's writer: it closes the connection after the answer
	}
	c.SetRequest(r2)
	if err == nil {
		err = f.call(c, next)
	}
	if err != nil {
		if !named && !c.Response().Committed {
			h[echo.HeaderXRequestID] = id // an error page the frame answers is named, as every page
		}
		c.Error(err)
	}
	status := c.Response().Status
	if logging.ClientGone(ctx) {
		// The client went away before the answer (which failed for that reason, or is lost):
		// not the bridge's failure, whatever status the handler chose.
		status = StatusClientGone
	}
	f.end(c.Request(), c.Path(), nil, rid, status, start)
	return nil
}

// clock is the time since the router was made, read off the monotonic clock only: a request's
// start and end are one clock read each, where time.Now reads the wall clock too (kvm-clock:
// about 25 ns a read).
func (f *frame) clock() time.Duration { return time.Since(f.epoch) }

// requestID names the request: the caller's X-Request-Id when it is kept (callerRequestID),
// else a new id, as an X-Request-Id header value.
func (f *frame) requestID(r *http.Request) []string {
	// (The header's key as net/http and echo canonicalize it: a lookup without Header.Get's
	// check of the key's form.)
	if v := r.Header[echo.HeaderXRequestID]; len(v) > 0 && callerRequestID(v[0]) {
		return []string{v[0]}
	}
	return f.ids.next()
}

// end tells the observer (if any) about the request answered status on route (through
// observe, the observer's function for route, when it is not nil), and logs its one access line.
func (f *frame) end(r *http.Request, route string, observe func(string, int, time.Duration), rid string, status int, start time.Duration) {
	took := f.clock() - start
	if observe != nil {
		observe(r.Method, status, took)
	} else if f.obs != nil {
		f.obs.ObserveRequest(route, r.Method, status, took)
	}
	level := accessLevel(status)
	lctx := r.Context()
	if !f.log.Enabled(lctx, level) {
		return // (LogAttrs would check too, after allocating its attributes)
	}
	if rid == "" {
		rid = f.requestID(r)[0] // a document answered unnamed (its handler answered 5xx itself)
	}
	// Only the path is logged: query strings carry codes, tokens and hints. The request's
	// client id and subject, once known, come from its log fields. The record goes to the
	// handler as Logger.LogAttrs would send it, without the caller's program counter
	// (runtime.Callers on every request): the bridge's handlers do not log sources.
	rec := slog.NewRecord(time.Now(), level, "http", 0)
	rec.AddAttrs(slog.String(logging.KeyRequestID, rid),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Duration("duration", took), slog.String("ip", f.echo.IPExtractor(r)))
	_ = f.log.Handler().Handle(lctx, rec)
}

// document serves d through the frame, as serve would through echo: the same headers, request
// id, observer call (d's path as the route), access line and panic guard. The request keeps
// its own context: d's handler logs nothing, and the access line names the request itself.
//
// The answer carries X-Request-Id only when the request's access line will be logged (at
// info, the level of every status a document answers but a panic's 500): the id is there to
// find that line, and a header in the handler's map costs net/http about 1,500 instructions
// per response (documentHeaders). A panic names the request then, before its 500 is written,
// as its lines are logged whatever the level.
func (f *frame) document(w http.ResponseWriter, r *http.Request, d *document) {
	start := f.clock()
	h := w.Header()
	var rid string
	if f.log.Enabled(r.Context(), slog.LevelInfo) {
		id := f.requestID(r)
		h[echo.HeaderXRequestID] = id
		rid = id[0]
	}
	for _, v := range f.documents {
		h[v.name] = v.value
	}
	sw := f.writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.status = w, 0
	rid = f.callDocument(sw, r, d.h, rid)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	sw.ResponseWriter = nil
	f.writers.Put(sw)
	if errors.Is(r.Context().Err(), context.Canceled) {
		status = StatusClientGone // as logging.ClientGone in serve
	}
	f.end(r, d.path, d.observe, rid, status, start)
}

// callDocument runs h; a panic in it (but http.ErrAbortHandler) is logged and answered as
// serve's: 500 through the error handler, unless h had answered already. It returns the
// request's id: rid, or the one a panic named the request with when rid was "".
func (f *frame) callDocument(w *statusWriter, r *http.Request, h http.Handler, rid string) (id string) {
	id = rid
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		if id == "" {
			named := f.requestID(r)
			if w.status == 0 {
				w.Header()[echo.HeaderXRequestID] = named
			}
			id = named[0]
		}
		// As in serve: the request with its log fields, in echo's context.
		c := f.echo.NewContext(r.WithContext(logging.WithRequest(r.Context(), id)), w)
		err := f.recovered(c, p)
		if w.status == 0 {
			c.Error(err)
		}
	}()
	h.ServeHTTP(w, r)
	return id
}

// statusWriter records the status a document's handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// panicStack bounds the stack logged with a recovered panic (echo's Recover's default).
const panicStack = 4 << 10

// call runs next; a panic in it (but http.ErrAbortHandler, which net/http handles) becomes
// its error, logged with the stack: the request is answered 500 and the server goes on.
func (f *frame) call(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		err = f.recovered(c, p)
	}()
	return next(c)
}

// recovered logs the recovered panic p with its stack and returns it as an error.
func (f *frame) recovered(c echo.Context, p any) error {
	perr, ok := p.(error)
	if !ok {
		perr = fmt.Errorf("%v", p)
	}
	stack := make([]byte, panicStack)
	stack = stack[:runtime.Stack(stack, false)]
	f.log.ErrorContext(c.Request().Context(), "panic recovered", "err", perr, "path", c.Request().URL.Path,
		"stack", string(stack))
	return perr
}

// WantsJSON reports whether the caller asked for JSON rather than a page.
func WantsJSON(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get("Accept"), "application/json")
}

// JSONError writes an RFC 6749 style error body (never cached).
func JSONError(c echo.Context, status int, code, description string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]string{"error": code, "error_description": description})
}

// errorHandler renders echo's errors (404, 405, ...) as pages or JSON. A page gets the page
// security headers (pageHeaders: the API's and the documents' CSP would not let it load its
// styles), also on an API or document route (a panic, a body too large).
func errorHandler(pages *Renderer, log *slog.Logger, pageHeaders []headerValue) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if !WantsJSON(c) {
			h := c.Response().Header()
			for _, v := range pageHeaders {
				h[v.name] = v.value
			}
		}
		code := http.StatusInternalServerError
		msg := "Something went wrong on our side. Please try again."
		if errors.Is(err, sso.ErrUnavailable) {
			// The store is unreachable: nothing was changed, and the same step may work in a
			// moment. One line; not an error of ours to chase per request.
			log.WarnContext(c.Request().Context(), "request failed: the store is unavailable", "err", err,
				"path", c.Request().URL.Path, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			c.Response().Header().Set("Retry-After", sso.UnavailableRetryAfter)
			const wait = "The service is briefly unavailable. Nothing was lost: please try again in a minute."
			if WantsJSON(c) {
				_ = JSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", wait)
				return
			}
			_ = pages.Error(c, http.StatusServiceUnavailable, "Please try again in a minute", wait, "")
			return
		}
		if he, ok := err.(*echo.HTTPError); ok {
			code = he.Code
			switch code {
			case http.StatusNotFound:
				msg = "There is no page at this address."
			case http.StatusMethodNotAllowed:
				msg = "This page does not accept that kind of request."
			case http.StatusRequestEntityTooLarge:
				msg = "The request is too large."
			default:
				if code < 500 {
					msg = fmt.Sprint(he.Message)
				}
			}
		}
		// A failure that only says the client went away is not the bridge's; any other one is,
		// also when the client hung up meanwhile (else hanging up would hide it).
		if code >= 500 && !(logging.ClientGone(c.Request().Context()) && errors.Is(err, context.Canceled)) {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Request().URL.Path,
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		}
		if WantsJSON(c) {
			_ = c.JSON(code, map[string]string{"error": http.StatusText(code), "error_description": msg})
			return
		}
		_ = pages.Error(c, code, http.StatusText(code), msg, "")
	}
}

// AnonymousLimit rate-limits endpoints that write for an anonymous caller, per client IP (or
// IPv6 /64): 429 with Retry-After, JSON for API endpoints and JSON callers, else a page.
type AnonymousLimit struct {
	Limiter *throttle.Limiter
	// Refused records a refusal (one audit row per endpoint, address and window).
	Refused func(ctx context.Context, name, ip string)
	Pages   *Renderer
	// Log records a limiter that could not count (optional).
	Log *slog.Logger
}

// Unavailable answers a request the bridge cannot serve for now (the throttle's or the rate
// limit's counters are unreachable): 503 with Retry-After, RFC 6749 temporarily_unavailable for
// API endpoints and JSON callers, else a page asking to try again later.
func Unavailable(c echo.Context, api bool, pages *Renderer) error {
	c.Response().Header().Set("Retry-After", "30")
	if api || WantsJSON(c) {
		return JSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable; retry later")
	}
	return pages.Error(c, http.StatusServiceUnavailable, "Please try again later",
		"We cannot check sign-ins right now, so we did not act on this request.",
		"Please wait a minute and try again.")
}

// Wrap limits next, counted under name.
func (l *AnonymousLimit) Wrap(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, wait, err := l.Limiter.Allow(c.Request().Context(), name+"|"+throttle.AddressKey(c.RealIP()))
		if err != nil {
			if errors.Is(err, sso.ErrUnavailable) {
				// The whole store is unreachable: the endpoint's own writes fail too, and it
				// answers that as it must (503, or the app told at its redirect URI).
				return next(c)
			}
			// Fail closed: no write without its count.
			if l.Log != nil {
				l.Log.ErrorContext(c.Request().Context(), "rate limit unavailable", "endpoint", name, "err", err)
			}
			return Unavailable(c, api, l.Pages)
		}
		if ok {
			return next(c)
		}
		c.Response().Header().Set("Retry-After", throttle.RetryAfterSeconds(wait))
		l.Refused(c.Request().Context(), name, c.RealIP())
		if api || WantsJSON(c) {
			return JSONError(c, http.StatusTooManyRequests, "slow_down", "too many requests from this address; retry later")
		}
		return l.Pages.Error(c, http.StatusTooManyRequests, "Too many requests",
			"We received too many requests from your network in a short time, so we did not act on this one.",
			"Please wait a minute and try again.")
	}
}

// Prefix mounts a plain http.Handler at Path and everything below it (an AMS connector's own
// pages, such as the demo's simulated website).
type Prefix struct {
	Path    string
	Handler http.Handler
}

// Mount adds the prefix's routes.
func (p Prefix) Mount(e *echo.Echo) {
	h := echo.WrapHandler(p.Handler)
	Any(e, p.Path, h)
	Any(e, p.Path+"/*", h)
}

// Any routes every method at path to h: each of echo's (OPTIONS included) and any other (a
// FOO), so that h alone answers the methods it does not take (a prefix's own site, a document
// naming GET and HEAD in its 405). echo's Any routes its eleven methods only, and answers any
// other 405 naming all eleven (CONNECT and TRACE among them) whatever h would say (review s21
// X2-2). Any keeps one route record, GET's (Echo.Routes lists the path once), and one more
// entry in the path's node: the path's not-found handler (echo.RouteNotFound), which echo's
// router runs, ahead of its own 405, for every method the node does not route. Echo's Any
// leaves a record per method, each a Route, its key in echo's map, a closure wrapping h and
// its name, all live for the life of the process and marked at every collection
// (TestAnyKeepsOneRecord).
func Any(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.GET(path, h)
	e.Router().Add(echo.RouteNotFound, path, h)
}

// Methods routes methods, and only them, at path to h, and every other method (echo's and any
// other) to refuse; refuse nil is Refuse(Allow(methods...)): 405 with an Allow header naming
// methods, answered by the error handler (a page, or JSON for a JSON caller). An endpoint whose
// handler answers its refusals itself (the protocol endpoints: RFC 6749 JSON, with the CORS
// headers a browser app needs to read it) passes it as refuse, unwrapped: a refused request
// is not counted as a request the endpoint serves (a rate limit) nor run through what only
// served requests need. The methods are named in the order given; OPTIONS, routed to h where
// h answers CORS preflights, is not named in Allow (Allow). As Any, it keeps one route record
// (methods[0]'s).
func Methods(e *echo.Echo, path string, h, refuse echo.HandlerFunc, methods ...string) {
	if len(methods) == 0 {
		panic("web.Methods: no methods for " + path)
	}
	e.Add(methods[0], path, h)
	r := e.Router()
	for _, m := range methods[1:] {
		r.Add(m, path, h)
	}
	if refuse == nil {
		refuse = Refuse(Allow(methods...))
	}
	r.Add(echo.RouteNotFound, path, refuse)
}

// Mount mounts parts on the router and then refuses, at each path they routed, every method
// none of them routes there (RefuseUnrouted): mount the parts with it, once, so that no route
// is left with echo's own 405.
func (rt *Router) Mount(parts ...Mounter) {
	for _, p := range parts {
		p.Mount(rt.Echo)
	}
	RefuseUnrouted(rt.Echo)
}

// unroutedProbe is a method no route takes: Find with it reaches a path's refusal.
const unroutedProbe = "SSOBRIDGE-UNROUTED"

// RefuseUnrouted routes, at every path of e whose other methods nothing answers yet (the
// routes added with e.GET, e.POST ...: Methods and Any route theirs), every method not routed
// there, echo's or any other, to Refuse naming the methods that are (Allow: OPTIONS left out,
// in alphabetical order), as Methods does. Echo's own 405 names OPTIONS first, which such a
// path does not serve (echo answers an OPTIONS there itself, 204 with the same list, and no
// page takes a CORS preflight); a page's OPTIONS is now refused as any other method is.
// Call it after every route is mounted (Router.Mount does): a route added later keeps
// echo's 405.
func RefuseUnrouted(e *echo.Echo) {
	seen := map[string]bool{}
	for _, r := range e.Routes() {
		if seen[r.Path] || r.Method == echo.RouteNotFound {
			continue
		}
		seen[r.Path] = true
		// The path's node as echo's router would answer a method it does not route: its
		// refusal when it has one, else echo's 405 with the node's Allow in the context.
		c := e.NewContext(nil, nil)
		e.Router().Find(unroutedProbe, r.Path, c)
		allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string)
		if !ok {
			continue
		}
		var methods []string
		for m := range strings.SplitSeq(allow, ", ") {
			if m != "" && m != http.MethodOptions {
				methods = append(methods, m)
			}
		}
		slices.Sort(methods)
		e.Router().Add(echo.RouteNotFound, r.Path, Refuse(strings.Join(methods, ", ")))
	}
}

// Allow is the Allow header of a 405 from an endpoint routing methods (Methods): the methods
// of the requests it serves, OPTIONS left out (RFC 9110 10.2.1: the methods the resource
// advertises; OPTIONS is routed only where the endpoint answers CORS preflights, the
// protocol's refusals name the methods without it, and a page's is refused like any other).
func Allow(methods ...string) string {
	named := make([]string, 0, len(methods))
	for _, m := range methods {
		if m != http.MethodOptions {
			named = append(named, m)
		}
	}
	return strings.Join(named, ", ")
}

// Refuse answers 405 with an Allow header of allow (RFC 9110 15.5.6), through the error
// handler.
func Refuse(allow string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, allow)
		return echo.ErrMethodNotAllowed
	}
}
