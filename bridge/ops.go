package bridge

import (
	"context"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/version"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// PathMetrics is where the admin listener serves the Prometheus metrics.
const PathMetrics = "/metrics"

// NewMetrics builds the metrics registry of one process (Deps.Metrics), labelled with the
// running build.
func NewMetrics() *metrics.Metrics {
	v := version.Get()
	return metrics.New(metrics.BuildInfo{Version: v.Version, Revision: v.Commit, GoVersion: v.GoVersion})
}

// instrument registers what metrics reads at scrape time: the profile cache's counters (when
// the directory has a cache in front), the signing keys, the outbox and, on SQLite, the group
// commit's writes per commit and failed transactions.
func (s *Server) instrument(m *metrics.Metrics) {
	if c := findCache(s.dir); c != nil {
		m.CacheStats(c.Stats)
	}
	m.Keys(func() []metrics.Key {
		cur := s.keys.Current()
		out := make([]metrics.Key, len(cur))
		for i, k := range cur {
			out[i] = metrics.Key{Algorithm: k.Algorithm, Created: k.Created, SignUntil: k.SignUntil}
		}
		return out
	}, s.now)
	m.Outbox(func(ctx context.Context) ([]metrics.OutboxTarget, error) { return outboxTargets(ctx, s.store) },
		s.now, 5*time.Second, s.log)
	if w, ok := s.store.(writeStats); ok {
		m.StoreWrites(func() metrics.StoreWrites { return storeWrites(w.WriteStats()) })
	}
}

// writeStats is a store with a group commit (sqlite.Store).
type writeStats interface {
	WriteStats() sqlite.WriteStats
}

// storeWrites is the group commit's counters for metrics.
func storeWrites(st sqlite.WriteStats) metrics.StoreWrites {
	out := metrics.StoreWrites{Commits: st.Commits[:], Writes: st.Writes, Failed: st.Failed,
		RetriedAfterWrite: st.RetriedAfterWrite, RetriedAfterCommit: st.RetriedAfterCommit}
	for _, b := range sqlite.CommitBounds {
		out.Bounds = append(out.Bounds, float64(b))
	}
	return out
}

// outboxTargets is the outbox's backlog per channel and client, counted by the store in one
// aggregate query (however many events wait, a scrape reads one row per target).
func outboxTargets(ctx context.Context, st store.OutboxAdmin) ([]metrics.OutboxTarget, error) {
	targets, err := st.OutboxTargets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.OutboxTarget, len(targets))
	for i, t := range targets {
		out[i] = metrics.OutboxTarget{Channel: t.Channel, Client: t.ClientID, Pending: t.Pending,
			Oldest: t.OldestPending, DeadLetter: t.Dead, Superseded: t.Superseded}
	}
	return out, nil
}

// cacheStats is the profile cache's counters (legacy/cache.Directory).
type cacheStats interface {
	Stats() (hits, misses int64)
}

// findCache finds the profile cache in front of the directory, if any.
func findCache(d legacy.Directory) cacheStats {
	for d != nil {
		if c, ok := d.(cacheStats); ok {
			return c
		}
		u, ok := d.(interface{ Unwrap() legacy.Directory })
		if !ok {
			return nil
		}
		d = u.Unwrap()
	}
	return nil
}

// tokenObserver counts token responses and names the client in the request's log lines.
type tokenObserver struct{ m *metrics.Metrics }

func (o tokenObserver) TokenIssued(ctx context.Context, grantType, clientID string) {
	logging.Annotate(ctx, clientID, "")
	o.m.TokenIssued(ctx, grantType, clientID)
}

var _ sso.TokenObserver = tokenObserver{}

// observeAudit counts each audit event and names its client and member in the request's log
// lines (audit.Log.Observe).
func observeAudit(m *metrics.Metrics) func(ctx context.Context, e *store.AuditEvent) {
	return func(ctx context.Context, e *store.AuditEvent) {
		m.AuditEvent(e.Event)
		logging.Annotate(ctx, e.ClientID, e.Subject)
	}
}

// opsHandler serves /metrics, /healthz and /readyz on the admin listener (without the admin
// token: the listener is private, and none of them carries member data), and everything else
// with next (the admin API).
func (s *Server) opsHandler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMetrics, s.metrics.Handler())
	mux.HandleFunc("GET "+PathHealthz, serveHealthz)
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, r *http.Request) { s.ready.serve(w, r, true) })
	// Their other methods are refused here (405 naming GET and HEAD), not passed to the admin
	// API by the catch-all below (s23, left by Q4).
	for _, path := range []string{PathMetrics, PathHealthz, PathReadyz} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		})
	}
	mux.Handle("/", next)
	return observeAdmin(mux, s.metrics)
}

// observeAdmin counts the admin listener's requests like the public ones, under the route
// "admin:" + the pattern the serving mux matched (never the raw path: bounded labels).
func observeAdmin(next http.Handler, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := ""
		if r.Pattern != "" {
			route = "admin:" + r.Pattern
		}
		m.ObserveRequest(route, r.Method, sw.status, time.Since(start))
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer (flushes, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Metrics is the server's metrics registry.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
