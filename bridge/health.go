package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Health endpoints, on the public and the admin listener.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// watermarkReadyz is the store row /readyz writes to prove the store writable.
const watermarkReadyz = "health.readyz"

// readiness answers /readyz: the checks health.ready_checks names gate it; the others are
// run and reported but do not. One answer is reused for health.cache_for, so that polling the
// endpoint (public: anyone may) costs at most one store write and one AMS query per period.
//
// A HEAD writes nothing (RFC 9110 9.3.2, as the pages' HEADs since 80a6673): it is answered
// with a GET's answer while that is fresh, else with checks whose store check reads the
// watermark instead of writing it (storeReadable), reused for HEADs only (headAt, headAnswer):
// a GET never takes a read for the proof of a write.
type readiness struct {
	cfg   config.HealthConfig
	store store.ShadowStore
	dir   legacy.Directory
	keys  *sso.KeyManager
	now   func() time.Time

	mu         sync.Mutex
	at         time.Time
	answer     readyAnswer
	headAt     time.Time
	headAnswer readyAnswer
}

// readyAnswer is /readyz's body.
type readyAnswer struct {
	Ready  bool         `json:"ready"`
	Checks []readyCheck `json:"checks"`
}

type readyCheck struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Gates bool   `json:"gates_readiness"`
	// Error is the failure, shown on the admin listener only.
	Error string `json:"error,omitempty"`
}

// check runs the checks (or reuses the last answer within cache_for); head: a HEAD's, which
// writes nothing (readiness).
func (r *readiness) check(ctx context.Context, head bool) readyAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := func(at time.Time) bool { return !at.IsZero() && r.now().Sub(at) < r.cfg.CacheFor }
	if fresh(r.at) {
		return r.answer
	}
	if head && fresh(r.headAt) {
		return r.headAnswer
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	checks := map[string]func(context.Context) error{
		config.ReadyStore: r.storeWritable,
		config.ReadyAMS:   r.amsReachable,
		config.ReadyKeys:  r.keysPresent,
	}
	if head {
		checks[config.ReadyStore] = r.storeReadable
	}
	out := readyAnswer{Ready: true, Checks: make([]readyCheck, len(config.ReadyCheckNames))}
	var wg sync.WaitGroup
	for i, name := range config.ReadyCheckNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := readyCheck{Name: name, OK: true, Gates: r.cfg.Gates(name)}
			if err := checks[name](ctx); err != nil {
				c.OK, c.Error = false, err.Error()
			}
			out.Checks[i] = c
		}()
	}
	wg.Wait()
	for _, c := range out.Checks {
		if c.Gates && !c.OK {
			out.Ready = false
		}
	}
	if head {
		r.headAt, r.headAnswer = r.now(), out
	} else {
		r.at, r.answer = r.now(), out
	}
	return out
}

func (r *readiness) storeWritable(ctx context.Context) error {
	if err := r.store.SetWatermark(ctx, watermarkReadyz, r.now()); err != nil {
		return fmt.Errorf("store not writable: %w", err)
	}
	return nil
}

// storeReadable is a HEAD's store check: the watermark read, not written.
func (r *readiness) storeReadable(ctx context.Context) error {
	if _, err := r.store.Watermark(ctx, watermarkReadyz); err != nil {
		return fmt.Errorf("store not readable: %w", err)
	}
	return nil
}

func (r *readiness) amsReachable(ctx context.Context) error {
	if err := r.dir.Ping(ctx); err != nil {
		return fmt.Errorf("AMS not reachable: %w", err)
	}
	return nil
}

func (r *readiness) keysPresent(context.Context) error {
	if n, want := len(r.keys.Current()), len(r.keys.Algorithms()); n < want {
		return fmt.Errorf("signing keys: %d of %d algorithms have a key that signs now", n, want)
	}
	return nil
}

// serve answers /readyz: 200 when ready, else 503; details (errors) only when admin. A HEAD
// (also routed to it as GET's on the admin listener) writes nothing (check).
func (r *readiness) serve(w http.ResponseWriter, req *http.Request, admin bool) {
	a := r.check(req.Context(), req.Method == http.MethodHead)
	if !admin {
		checks := make([]readyCheck, len(a.Checks))
		for i, c := range a.Checks {
			c.Error = ""
			checks[i] = c
		}
		a.Checks = checks
	}
	status := http.StatusOK
	if !a.Ready {
		status = http.StatusServiceUnavailable
	}
	writeHealth(w, status, a)
}

// serveHealthz answers /healthz: the process answers.
func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	writeHealth(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeHealth(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// healthRoutes mounts /healthz and /readyz on the public listener.
type healthRoutes struct{ ready *readiness }

// Mount adds the routes.
func (h healthRoutes) Mount(e *echo.Echo) {
	healthz := func(c echo.Context) error {
		serveHealthz(c.Response(), c.Request())
		return nil
	}
	readyz := func(c echo.Context) error {
		h.ready.serve(c.Response(), c.Request(), false)
		return nil
	}
	// GET and HEAD only (RFC 9110 9.3.2: HEAD as GET without the body); any other method is
	// 405 with an Allow header naming them (review s21 X2-2).
	e.GET(PathHealthz, healthz)
	e.HEAD(PathHealthz, healthz)
	e.GET(PathReadyz, readyz)
	e.HEAD(PathReadyz, readyz)
}
