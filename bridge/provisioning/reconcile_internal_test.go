package provisioning

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
)

// fakeClock is a clock whose sleeps return at once, advancing it; the n-th sleep ends ctx.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
	stopAt int
	cancel context.CancelFunc
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	if len(c.sleeps) == c.stopAt && c.cancel != nil {
		c.cancel()
	}
	return ctx.Err()
}

// TestPacer: after n members the pass is where n/rate seconds from its start would put it,
// never ahead; time spent working counts towards the budget.
func TestPacer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		rate  float64
		steps []int           // members handled before each wait
		work  time.Duration   // time each step takes by itself
		want  []time.Duration // sleeps
	}{
		{"first page at once", 100, []int{0}, 0, nil},
		{"one page per second", 100, []int{0, 100, 100, 100}, 0, []time.Duration{time.Second, time.Second, time.Second}},
		{"small pages", 10, []int{0, 5, 5}, 0, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{"pauses under 10ms are caught up later", 1000, []int{0, 5, 5}, 0, []time.Duration{10 * time.Millisecond}},
		{"slow work needs no wait", 100, []int{0, 100, 100}, 2 * time.Second, nil},
		{"partly slow work", 100, []int{0, 100, 100}, 400 * time.Millisecond, []time.Duration{600 * time.Millisecond, 600 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: start}
			p := &pacer{rate: tc.rate, start: start, now: c.now, sleep: c.sleep}
			for i, n := range tc.steps {
				if i > 0 {
					c.t = c.t.Add(tc.work)
				}
				p.add(n)
				if err := p.wait(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if len(c.sleeps) != len(tc.want) {
				t.Fatalf("sleeps %v, want %v", c.sleeps, tc.want)
			}
			for i := range c.sleeps {
				if c.sleeps[i] != tc.want[i] {
					t.Fatalf("sleeps %v, want %v", c.sleeps, tc.want)
				}
			}
		})
	}
}

// countingLister lists alice, failing while fail is set, and counts passes.
type countingLister struct {
	*bridgetest.Directory
	mu     sync.Mutex
	passes int
	fail   bool
}

func (l *countingLister) ListMembers(ctx context.Context, after string, limit int) ([]*legacy.Member, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return nil, legacy.Unavailable("list", errors.New("down"))
	}
	if after != "" {
		return nil, nil
	}
	l.passes++
	m, err := l.Directory.MemberByLogin(ctx, "alice")
	return []*legacy.Member{m}, err
}

// TestRunReconcilerSchedule: a pass reconcile_interval after the previous one ended (also
// across a restart), a pass in progress resumed at once, a failed pass retried after
// poll_interval, none at all with reconcile_interval 0.
func TestRunReconcilerSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		state    store.ReconcileState
		fail     bool
		interval time.Duration
		want     []time.Duration
		passes   int
	}{
		{name: "first start", interval: 15 * time.Minute, want: []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute}, passes: 3},
		{name: "restart 5 minutes after a pass", state: store.ReconcileState{FinishedAt: start.Add(-5 * time.Minute)},
			interval: 15 * time.Minute, want: []time.Duration{10 * time.Minute, 15 * time.Minute, 15 * time.Minute}, passes: 2},
		{name: "restart long after a pass", state: store.ReconcileState{FinishedAt: start.Add(-time.Hour)},
			interval: 15 * time.Minute, want: []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute}, passes: 3},
		{name: "restart during a pass", state: store.ReconcileState{StartedAt: start.Add(-time.Minute), Cursor: "0", FinishedAt: start.Add(-time.Hour)},
			interval: 15 * time.Minute, want: []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute}, passes: 2},
		{name: "AMS down", fail: true, interval: 15 * time.Minute, want: []time.Duration{time.Minute, time.Minute, time.Minute}},
		{name: "off", interval: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st, err := sqlite.Open(ctx, sqlite.Memory)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if tc.state != (store.ReconcileState{}) {
				if err := st.SetReconcileState(ctx, ReconcileName, tc.state); err != nil {
					t.Fatal(err)
				}
			}
			c := &fakeClock{t: start, stopAt: 3, cancel: cancel}
			cfg := Defaults()
			cfg.ReconcileInterval = tc.interval
			dir := &countingLister{Directory: bridgetest.NewDirectory(), fail: tc.fail}
			s := New(Options{Config: cfg, Store: st, Directory: dir, Now: c.now, Access: access.New(nil, nil, nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			s.sleep = c.sleep
			s.runReconciler(ctx) // returns when the third sleep ends ctx (or at once when off)
			if len(c.sleeps) != len(tc.want) {
				t.Fatalf("sleeps %v, want %v", c.sleeps, tc.want)
			}
			for i := range c.sleeps {
				if c.sleeps[i] != tc.want[i] {
					t.Fatalf("sleeps %v, want %v", c.sleeps, tc.want)
				}
			}
			if dir.passes != tc.passes {
				t.Fatalf("%d passes, want %d", dir.passes, tc.passes)
			}
		})
	}
}
