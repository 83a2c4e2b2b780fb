package provisioning_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/legacy"
)

// flakyAMS is the test directory that fails as an unreachable AMS does while down is set,
// counting the change polls and the reconcile's listings it refused.
type flakyAMS struct {
	*bridgetest.Directory
	down             atomic.Bool
	polls, listTries atomic.Int64
}

func (d *flakyAMS) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	if d.down.Load() {
		d.polls.Add(1)
		return nil, since, legacy.Unavailable("changed since", context.DeadlineExceeded)
	}
	return d.Directory.ChangedSince(ctx, since, limit)
}

func (d *flakyAMS) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	if d.down.Load() {
		d.listTries.Add(1)
		return nil, legacy.Unavailable("list members", context.DeadlineExceeded)
	}
	return d.Directory.ListMembers(ctx, afterKey, limit)
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestAMSOutageSaidOnce: while the AMS is away, change polling and the reconcile fail at every
// attempt; like the outbox's claims and the cluster's leases, each job says so once as a
// warning (not an error) and once, as information, when it works again.
func TestAMSOutageSaidOnce(t *testing.T) {
	f := newFixture(t, nil, nil)
	var out lockedLog
	ams := &flakyAMS{Directory: f.dir}
	ams.down.Store(true)
	f.opts.Directory = ams
	f.opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
	f.opts.Config.PollInterval = 5 * time.Millisecond // the retry interval of both
	f.start()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s:\n%s", what, out.String())
			}
		}
	}
	waitFor("5 failed polls and 5 failed reconcile passes", func() bool { return ams.polls.Load() >= 5 && ams.listTries.Load() >= 5 })
	ams.down.Store(false)
	waitFor("recovery lines", func() bool {
		s := out.String()
		return strings.Contains(s, "polls work again") && strings.Contains(s, "reconcile works again")
	})
	cancel()
	<-done

	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, rest, _ := strings.Cut(l, "level=")
		level := strings.Fields(rest)[0]
		_, msg, _ := strings.Cut(l, "msg=")
		switch {
		case level == "ERROR":
			t.Errorf("error line during an AMS outage: %s", l)
		case strings.Contains(msg, "poll failed"):
			count["poll "+level]++
		case strings.Contains(msg, "polls work again"):
			count["poll "+level]++
		case strings.Contains(msg, "reconcile failed"):
			count["reconcile "+level]++
		case strings.Contains(msg, "reconcile works again"):
			count["reconcile "+level]++
		}
	}
	for _, k := range []string{"poll WARN", "poll INFO", "reconcile WARN", "reconcile INFO"} {
		if count[k] != 1 {
			t.Errorf("%s lines: %d, want 1 (%v)\n%s", k, count[k], count, out.String())
		}
	}
}
