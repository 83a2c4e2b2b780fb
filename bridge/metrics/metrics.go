package metrics

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the bridge.
const Namespace = "ssobridge"

// MaxClients bounds the distinct client label values (beyond it: "other").
const MaxClients = 500

// Other is the label value standing for anything past a bound.
const Other = "other"

// BuildInfo labels ssobridge_build_info.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// Metrics holds the registry and the bridge's collectors. Its methods are safe for concurrent
// use; a nil *Metrics is not (the composition root always builds one).
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	signIns      *prometheus.CounterVec
	amsDuration  *prometheus.HistogramVec
	amsErrors    *prometheus.CounterVec
	tokens       *prometheus.CounterVec
	refreshReuse prometheus.Counter
	audit        *prometheus.CounterVec
	deliveries   *prometheus.CounterVec

	// The series of each request kind and of each grant and client are resolved once and
	// read on every request and token response without a lock (readMap); mu orders their
	// additions and guards clients.
	mu       sync.Mutex
	reqs     atomic.Pointer[map[reqKey]reqSeries]
	tokenSet atomic.Pointer[map[pair]prometheus.Counter]
	clients  map[string]struct{}
}

// seriesOf is the series of k in *p, made by mk and added when it is not there yet: the series
// maps are read without a lock and replaced, never changed, by an addition (under mu). Their
// keys are few and added once each (routes, methods and statuses; grants and registered
// clients); their reads are every request's.
func seriesOf[K comparable, V any](p *atomic.Pointer[map[K]V], mu *sync.Mutex, k K, mk func() V) V {
	if m := p.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	mu.Lock()
	defer mu.Unlock()
	m := p.Load()
	if m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	v := mk()
	n := 0
	if m != nil {
		n = len(*m)
	}
	next := make(map[K]V, n+1)
	if m != nil {
		maps.Copy(next, *m)
	}
	next[k] = v
	p.Store(&next)
	return v
}

type reqKey struct {
	route, method string
	status        int
}

type reqSeries struct {
	count prometheus.Counter
	took  prometheus.Observer
}

type pair struct{ a, b string }

// New builds the registry with the Go runtime and process collectors and the bridge's own.
func New(build BuildInfo) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests on the public listener by route template, method and status code."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help: "HTTP request latency on the public listener by route template and method.", Buckets: prometheus.DefBuckets},
			[]string{"route", "method"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "signins_total",
			Help: "Sign-ins by method (password: the sign-in form; password_grant; upstream_link: the AMS password that links an upstream identity; password_reconfirm: the password typed again at a step-up, no sign-in; upstream: an upstream provider; ams_handoff; token_exchange) and outcome (ok, bad_credentials, throttled, throttle_unavailable, ams_unavailable, the AMS status that refused: locked_out, disabled ...; for AMS tokens replayed, refused, unknown_user; for upstream sign-ins expired, replayed, wrong_issuer, invalid_answer, unavailable, upstream_refused ...)."},
			[]string{"method", "outcome"}),
		amsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "ams", Name: "query_duration_seconds",
			Help: "Latency of the named queries run against the AMS database.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"query"}),
		amsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "ams", Name: "query_errors_total",
			Help: "Named AMS queries that failed (unreachable, timed out, contract violation)."}, []string{"query"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "tokens_issued_total",
			Help: "Token responses sent by the token endpoint, by grant type and client."}, []string{"grant_type", "client"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "refresh_token_reuse_total",
			Help: "Rotated refresh tokens presented again (reuse detected; the token family was revoked)."}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "audit_events_total",
			Help: "Audit events written, by event name."}, []string{"event"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "outbox", Name: "deliveries_total",
			Help: "Outbox delivery attempts by channel, client and outcome (delivered, retry, dead, superseded: failed, and a newer event of the same member and app stands for it)."}, []string{"channel", "client", "outcome"}),
		clients: map[string]struct{}{},
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "The running build (always 1).",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "goversion": build.GoVersion}})
	info.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info, m.requests, m.duration, m.signIns, m.amsDuration, m.amsErrors, m.tokens, m.refreshReuse, m.audit, m.deliveries,
	)
	return m
}

// Registry is the registry (for tests and further collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// ObserveRequest counts a request (web.RequestObserver).
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	m.requestSeries(route, knownMethod(method), status).observe(took)
}

// requestSeries is the series of a request on route (the registered path; "": none matched)
// answered status, method one of knownMethod's.
func (m *Metrics) requestSeries(route, method string, status int) reqSeries {
	if route == "" {
		route = "unmatched"
	}
	k := reqKey{route, method, status}
	return seriesOf(&m.reqs, &m.mu, k, func() reqSeries {
		return reqSeries{m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(status)), m.duration.WithLabelValues(k.route, k.method)}
	})
}

// ObserveRoute is ObserveRequest for route alone (web.RouteObserver): the function it returns
// finds the series of a method and status among the few that route has answered (one or two
// for a document: GET 200, and 304) by comparing them, instead of hashing the route, the
// method and the status into the series of every route (about 300 instructions a request).
// They are the same series as ObserveRequest's.
func (m *Metrics) ObserveRoute(route string) func(method string, status int, took time.Duration) {
	rs := &routeSeries{}
	return func(method string, status int, took time.Duration) {
		method = knownMethod(method)
		if l := rs.list.Load(); l != nil {
			for i := range *l {
				if e := &(*l)[i]; e.status == status && e.method == method {
					e.series.observe(took)
					return
				}
			}
		}
		rs.add(method, status, m.requestSeries(route, method, status)).observe(took)
	}
}

// routeSeries are the series a route has answered, by method and status: read without a lock
// and replaced, never changed, by an addition (under mu), as the series maps (seriesOf).
type routeSeries struct {
	mu   sync.Mutex
	list atomic.Pointer[[]routeEntry]
}

type routeEntry struct {
	method string
	status int
	series reqSeries
}

// add adds s as the series of method and status, unless another request added it meanwhile;
// it returns s.
func (rs *routeSeries) add(method string, status int, s reqSeries) reqSeries {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var next []routeEntry
	if l := rs.list.Load(); l != nil {
		for _, e := range *l {
			if e.status == status && e.method == method {
				return s
			}
		}
		next = append(next, *l...)
	}
	next = append(next, routeEntry{method, status, s})
	rs.list.Store(&next)
	return s
}

func (s reqSeries) observe(took time.Duration) {
	s.count.Inc()
	s.took.Observe(took.Seconds())
}

// knownMethod keeps the method label to the standard methods.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return m
	}
	return Other
}

// SignIn counts a sign-in: a password check, an upstream or a hand-off sign-in (signin.Observer).
func (m *Metrics) SignIn(method, outcome string) { m.signIns.WithLabelValues(method, outcome).Inc() }

// ObserveQuery records an AMS query (legacy.QueryObserver).
func (m *Metrics) ObserveQuery(name string, took time.Duration, err error) {
	m.amsDuration.WithLabelValues(name).Observe(took.Seconds())
	if err != nil {
		m.amsErrors.WithLabelValues(name).Inc()
	}
}

// TokenIssued counts a token response (sso.TokenObserver): the series of each grant and
// client is resolved once.
func (m *Metrics) TokenIssued(_ context.Context, grantType, clientID string) {
	k := pair{grantType, clientID}
	c := seriesOf(&m.tokenSet, &m.mu, k, func() prometheus.Counter {
		return m.tokens.WithLabelValues(grantType, m.clientLabel(clientID))
	})
	c.Inc()
}

// clientLabel is the client's label value: its id while fewer than MaxClients were seen, else
// Other. m.mu is held for writing.
func (m *Metrics) clientLabel(id string) string {
	if _, ok := m.clients[id]; ok {
		return id
	}
	if len(m.clients) >= MaxClients {
		return Other
	}
	m.clients[id] = struct{}{}
	return id
}

// AuditEvent counts an audit event by its name (a fixed string of the code); a refresh token
// reuse also counts in ssobridge_refresh_token_reuse_total.
func (m *Metrics) AuditEvent(event string) {
	m.audit.WithLabelValues(event).Inc()
	if event == EventRefreshReuse {
		m.refreshReuse.Inc()
	}
}

// EventRefreshReuse is the audit event of a detected refresh token reuse (sso's).
const EventRefreshReuse = "token.refresh_reuse"

// Delivery counts an outbox delivery attempt (outbox.DeliveryObserver).
func (m *Metrics) Delivery(channel, clientID, outcome string) {
	m.mu.Lock()
	client := m.clientLabel(clientID)
	m.mu.Unlock()
	m.deliveries.WithLabelValues(channel, client, outcome).Inc()
}
