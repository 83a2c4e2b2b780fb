package sqldir_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// heldClock is a directory on the fake whose AMS holds every application-clock query until
// release is called (then answers it): started reports each query as it arrives, queries counts
// them.
type heldClock struct {
	d       *sqldir.Directory
	started chan struct{}
	queries atomic.Int32
	release func()
}

func newHeldClock(t *testing.T) *heldClock {
	tg := startFake(t)
	cfg := tdsConfig()
	cfg.QueryTimeout = time.Minute // the test releases the query long before
	h := &heldClock{d: newTDSDirectory(t, tg.db, cfg), started: make(chan struct{}, 16)}
	held := make(chan struct{})
	var once sync.Once
	h.release = func() { once.Do(func() { close(held) }) }
	t.Cleanup(h.release)
	tg.fake.SetHook(func(r *tdsfake.Request) *tdsfake.Action {
		if strings.Contains(r.SQL, "System.Database.TimeZoneOffset") {
			h.queries.Add(1)
			h.started <- struct{}{}
			<-held // the AMS has not answered yet
		}
		return nil
	})
	return h
}

// waitQuery waits for the clock query to reach the AMS.
func (h *heldClock) waitQuery(t *testing.T) {
	t.Helper()
	select {
	case <-h.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the clock query never reached the AMS")
	}
}

// While the AMS has not answered the application-clock query, a sign-in whose request gives up
// returns at once (the AMS is unavailable) instead of queueing behind the sign-in that is
// reading the clock. Before, the offset was read holding the directory's clock lock: every
// sign-in and lookup waited for the one in front, then ran the query itself, so with a hung AMS
// the k-th request came back after k query timeouts.
func TestClockReadDoesNotQueueCallers(t *testing.T) {
	h := newHeldClock(t)
	first := make(chan error, 1)
	go func() {
		_, err := h.d.Authenticate(context.Background(), "jdoe", goodPass)
		first <- err
	}()
	h.waitQuery(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := h.d.Authenticate(ctx, "jdoe", goodPass)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Errorf("the sign-in that gave up: err = %v, want legacy.ErrUnavailable", err)
		}
	case <-time.After(20 * time.Second):
		h.release()
		t.Fatal("the sign-in that gave up after 100ms waited for the held clock query")
	}
	select {
	case err := <-first:
		t.Fatalf("the first sign-in ended (%v) before the AMS answered the clock query", err)
	default: // the second came back while the read was still held
	}
	h.release()
	if err := <-first; err != nil {
		t.Errorf("the sign-in that waited for the AMS: %v", err)
	}
	if n := h.queries.Load(); n != 1 {
		t.Errorf("%d clock queries for two sign-ins at once, want one shared", n)
	}
}

// The shared read of the application clock outlives the caller that started it: when that
// caller gives up before the AMS answers, the callers waiting with it still get the offset,
// from the one read (were it not detached, that caller's cancellation would be their answer).
func TestClockReadOutlivesItsFirstCaller(t *testing.T) {
	h := newHeldClock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := h.d.Clock(ctx)
		first <- err
	}()
	h.waitQuery(t)
	second := make(chan error, 1)
	go func() {
		_, err := h.d.Clock(context.Background())
		second <- err
	}()
	if err := <-first; !errors.Is(err, legacy.ErrUnavailable) {
		t.Errorf("the caller that gave up: %v, want legacy.ErrUnavailable", err)
	}
	h.release()
	if err := <-second; err != nil {
		t.Errorf("the caller that waited for the shared read: %v", err)
	}
	if n := h.queries.Load(); n != 1 {
		t.Errorf("%d clock queries, want one shared", n)
	}
}
