package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// failingHarness is a queue whose deliveries to app "x" (and any other but a, b and c) end as
// the test says, on a clock the test moves, and three apps a, b, c whose deliveries succeed.
type failingHarness struct {
	t     *testing.T
	ctx   context.Context
	st    *sqlite.Store
	q     *outbox.Queue
	start time.Time

	mu    sync.Mutex
	now   time.Time
	x     func(ctx context.Context, e *store.OutboxEvent) error // x's deliveries
	calls int                                                   // deliveries to x
	seq   int
}

func newFailingHarness(t *testing.T, cfg outbox.Config) *failingHarness {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &failingHarness{t: t, ctx: ctx, st: st, start: time.Now().UTC().Truncate(time.Second)}
	h.now = h.start
	h.q = outbox.New(outbox.Options{Config: cfg, Store: st, Now: h.clock, Logger: slog.New(slog.DiscardHandler),
		Channels: map[string]outbox.Deliverer{"backchannel": outbox.DeliverFunc(func(ctx context.Context, e *store.OutboxEvent) error {
			switch e.ClientID {
			case "a", "b", "c":
				return nil
			}
			h.mu.Lock()
			h.calls++
			x := h.x
			h.mu.Unlock()
			return x(ctx, e)
		})}})
	// The other apps' events, queued before any of x's, fall due only at the probe (after
	// every step): the probe's first three claims are theirs, its last (the last free worker)
	// x's or none.
	for _, app := range []string{"a", "b", "c"} {
		h.enqueue(app, h.start.Add(probeAfter))
	}
	if err := st.CreateClient(ctx, &sso.StoredClient{ID: "x", Config: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	return h
}

// probeAfter is when the probe runs, unless a case moves the clock further.
const probeAfter = 2 * time.Minute

func (h *failingHarness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// at sets the clock to start+d.
func (h *failingHarness) at(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.start.Add(d)
}

// advance moves the clock on by d.
func (h *failingHarness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// enqueue queues an event of app with a key of its own, due at due (now when zero), and
// returns its subject.
func (h *failingHarness) enqueue(app string, due time.Time) string {
	h.t.Helper()
	h.seq++
	if due.IsZero() {
		due = h.clock()
	}
	s := fmt.Sprintf("member-%d", h.seq)
	if err := h.st.Enqueue(h.ctx, &store.OutboxEvent{ID: app + "-" + s, Key: outbox.Key("backchannel", app, s),
		Channel: "backchannel", ClientID: app, Subject: s, Type: "logout", Payload: []byte("{}"), NextAttempt: due}); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// deliverX queues an event of x, due now, and delivers what is due with x's deliveries ending
// in err (or as fn says).
func (h *failingHarness) deliverX(fn func(ctx context.Context, e *store.OutboxEvent) error) {
	h.t.Helper()
	h.enqueue("x", time.Time{})
	h.mu.Lock()
	h.x, h.calls = fn, 0
	h.mu.Unlock()
	if _, err := h.q.DeliverDue(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	if h.calls != 1 {
		h.t.Fatalf("x's deliveries: %d, want 1", h.calls)
	}
}

// deliverKeyX queues an event of x, due now, and delivers it synchronously (DeliverKey, a
// sign-in's provisioning) with x's deliveries ending as fn says, failing or not (fail).
func (h *failingHarness) deliverKeyX(fn func(ctx context.Context, e *store.OutboxEvent) error, fail bool) {
	h.t.Helper()
	s := h.enqueue("x", time.Time{})
	h.mu.Lock()
	h.x, h.calls = fn, 0
	h.mu.Unlock()
	err := h.q.DeliverKey(h.ctx, outbox.Key("backchannel", "x", s), "x", s)
	if (err != nil) != fail {
		h.t.Fatalf("DeliverKey: %v, want a failure: %v", err, fail)
	}
	if h.calls != 1 {
		h.t.Fatalf("x's deliveries: %d, want 1", h.calls)
	}
}

// fails ends a delivery at once with err: an answer, whatever it says (a 503 answered in
// milliseconds is a failure, not slowness).
func fails(err error) func(context.Context, *store.OutboxEvent) error {
	return func(context.Context, *store.OutboxEvent) error { return err }
}

// slowly ends a delivery with err after shadow.timeout (the clock moved on): no answer came.
func (h *failingHarness) slowly(err error) func(context.Context, *store.OutboxEvent) error {
	return func(context.Context, *store.OutboxEvent) error {
		h.advance(outbox.Defaults().Timeout)
		return err
	}
}

// slow says whether the queue keeps x off its last free worker: the other apps' events take
// the first three, x's (queued last) is claimed with the last or not at all.
func (h *failingHarness) slow() bool {
	h.t.Helper()
	if h.clock().Before(h.start.Add(probeAfter)) {
		h.at(probeAfter)
	}
	h.enqueue("x", time.Time{})
	h.mu.Lock()
	h.x, h.calls = fails(nil), 0
	h.mu.Unlock()
	n, err := h.q.DeliverDue(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	switch {
	case n == 3 && h.calls == 0:
		return true
	case n == 4 && h.calls == 1:
		return false
	}
	h.t.Fatalf("probe: %d claimed, %d of x's delivered; want 3 and 0 or 4 and 1", n, h.calls)
	return false
}

// TestFailingClients (final read s18 R2-8): the queue keeps a client whose latest delivery
// failed slowly off its last free worker (89d97b5), and forgets it when that says nothing any
// more about its target: a permanent refusal or a fast failure (an answer, not slowness), its
// events all gone dead, its app removed (during a delivery, or idle: ForgetIdleClients, called
// when clients change), or no delivery of its events for longer than any backoff. Before, only
// a success forgot a client: a removed app, one registered again under its id or one whose
// events all went dead stayed marked, and the set grew by every client id that ever failed.
//
// Session 19 O's notes: a 503 answered at once marked its client as slow (now only a failure
// that took slowAfter does: "failed fast" cases), and a sign-in's synchronous delivery
// (DeliverKey) said nothing of its client, slow or not ("at sign-in" cases).
func TestFailingClients(t *testing.T) {
	cfg := outbox.Defaults()
	oneAttempt := cfg
	oneAttempt.MaxAttempts = 1
	longAfter := cfg.BackoffMax + 2*cfg.Timeout + 30*time.Second + time.Minute // past the last backoff and a lease
	for _, tc := range []struct {
		name  string
		cfg   outbox.Config
		steps func(h *failingHarness)
		slow  bool
	}{
		{"never failed", cfg, func(h *failingHarness) {}, false},
		{"delivered", cfg, func(h *failingHarness) { h.deliverX(fails(nil)) }, false},
		{"failed slowly, retried", cfg, func(h *failingHarness) { h.deliverX(h.slowly(outbox.Retry("no answer"))) }, true},
		{"failed fast, retried", cfg, func(h *failingHarness) { h.deliverX(fails(outbox.Retry("503"))) }, false},
		{"failed slowly, then fast", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.deliverX(fails(outbox.Retry("503")))
		}, false},
		{"failed fast, then slowly", cfg, func(h *failingHarness) {
			h.deliverX(fails(outbox.Retry("503")))
			h.deliverX(h.slowly(outbox.Retry("503 after 10s")))
		}, true},
		{"failed, then delivered", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.deliverX(fails(nil))
		}, false},
		{"refused for good", cfg, func(h *failingHarness) { h.deliverX(fails(outbox.Permanent("HTTP 400"))) }, false},
		{"failed, then refused for good", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.deliverX(fails(outbox.Permanent("HTTP 404")))
		}, false},
		{"refused for good, then failed", cfg, func(h *failingHarness) {
			h.deliverX(fails(outbox.Permanent("HTTP 404")))
			h.deliverX(h.slowly(outbox.Retry("no answer")))
		}, true},
		{"its last event went dead", oneAttempt, func(h *failingHarness) { h.deliverX(h.slowly(outbox.Retry("no answer"))) }, false},
		{"an event went dead, another waits to retry", oneAttempt, func(h *failingHarness) {
			h.enqueue("x", h.start.Add(time.Minute))
			h.deliverX(h.slowly(outbox.Retry("no answer")))
		}, true},
		{"an event went dead fast, another waits to retry", oneAttempt, func(h *failingHarness) {
			h.enqueue("x", h.start.Add(time.Minute))
			h.deliverX(fails(outbox.Retry("503")))
		}, false},
		{"failed slowly at sign-in", cfg, func(h *failingHarness) { h.deliverKeyX(h.slowly(outbox.Retry("no answer")), true) }, true},
		{"failed fast at sign-in", cfg, func(h *failingHarness) { h.deliverKeyX(fails(outbox.Retry("503")), true) }, false},
		{"failed, then delivered at sign-in", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.deliverKeyX(fails(nil), false)
		}, false},
		{"failed at sign-in, then delivered", cfg, func(h *failingHarness) {
			h.deliverKeyX(h.slowly(outbox.Retry("no answer")), true)
			h.deliverX(fails(nil))
		}, false},
		{"removed during its delivery", cfg, func(h *failingHarness) {
			h.deliverX(func(ctx context.Context, e *store.OutboxEvent) error {
				if err := h.st.DeleteClient(ctx, "x"); err != nil {
					h.t.Error(err)
				}
				h.advance(cfg.Timeout)
				return outbox.Retry("no answer")
			})
		}, false},
		{"removed after its failure, clients changed", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			if err := h.st.DeleteClient(h.ctx, "x"); err != nil {
				h.t.Fatal(err)
			}
			if err := h.q.ForgetIdleClients(h.ctx); err != nil {
				h.t.Fatal(err)
			}
		}, false},
		{"clients changed, its events still pending", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			if err := h.q.ForgetIdleClients(h.ctx); err != nil {
				h.t.Fatal(err)
			}
		}, true},
		{"failed a while ago", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.at(cfg.BackoffMax)
		}, true},
		{"failed longer ago than any backoff", cfg, func(h *failingHarness) {
			h.deliverX(h.slowly(outbox.Retry("no answer")))
			h.at(longAfter)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFailingHarness(t, tc.cfg)
			tc.steps(h)
			if got := h.slow(); got != tc.slow {
				t.Fatalf("kept off the last free worker: %v, want %v", got, tc.slow)
			}
		})
	}
}

// TestFailingClientsBounded (final read s18 R2-8): apps that failed and were removed since, on
// another replica whose notification this one missed (no ForgetIdleClients), are forgotten in
// time: the set holds at most the clients that failed within the last backoff_max and a
// lease. Before, it grew by every client id that ever failed (40 here).
func TestFailingClientsBounded(t *testing.T) {
	cfg := outbox.Defaults()
	step := cfg.BackoffMax / 4
	h := newFailingHarness(t, cfg)
	for i := range 40 {
		h.at(probeAfter + time.Duration(i)*step) // the other apps' events, due, are delivered first
		id := fmt.Sprintf("gone-%d", i)
		if err := h.st.CreateClient(h.ctx, &sso.StoredClient{ID: id, Config: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		h.enqueue(id, time.Time{})
		h.mu.Lock()
		h.x = h.slowly(outbox.Retry("no answer"))
		h.mu.Unlock()
		if _, err := h.q.DeliverDue(h.ctx); err != nil {
			t.Fatal(err)
		}
		if err := h.st.DeleteClient(h.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.q.FailingClients(); n > 6 {
		t.Fatalf("%d clients kept as failing, want at most the 6 that failed within backoff_max and a lease", n)
	}
}
