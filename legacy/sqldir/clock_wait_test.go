package sqldir_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
)

// While the AMS does not answer the application-clock query, a sign-in whose request has
// given up returns at once (the AMS is unavailable) instead of queueing behind the sign-in
// that is reading the clock. Before, the offset was read holding the directory's clock lock:
// every sign-in and lookup waited for the one in front, then ran the query itself, so with a
// hung AMS the k-th request came back after k query timeouts.
func TestClockReadDoesNotQueueCallers(t *testing.T) {
	tg := startFake(t)
	cfg := tdsConfig()
	cfg.QueryTimeout = 3 * time.Second
	d := newTDSDirectory(t, tg.db, cfg)
	inClock := make(chan struct{}, 16)
	var clockQueries atomic.Int32
	tg.fake.SetHook(func(r *tdsfake.Request) *tdsfake.Action {
		if strings.Contains(r.SQL, "System.Database.TimeZoneOffset") {
			clockQueries.Add(1)
			inClock <- struct{}{}
			return &tdsfake.Action{Delay: time.Minute} // hung: ends at the query timeout
		}
		return nil
	})

	type result struct {
		name string
		err  error
	}
	done := make(chan result, 2)
	go func() {
		_, err := d.Authenticate(context.Background(), "jdoe", goodPass)
		done <- result{"first", err}
	}()
	select {
	case <-inClock:
	case <-time.After(20 * time.Second):
		t.Fatal("the clock query never reached the AMS")
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := d.Authenticate(ctx, "jdoe", goodPass)
		done <- result{"second", err}
	}()
	first := <-done
	second := <-done
	if first.name != "second" {
		t.Fatalf("the sign-in that gave up after 100ms came back only after the hung clock query (%v)", second.err)
	}
	for _, r := range []result{first, second} {
		if !errors.Is(r.err, legacy.ErrUnavailable) {
			t.Errorf("%s sign-in: err = %v, want legacy.ErrUnavailable", r.name, r.err)
		}
	}
	if n := clockQueries.Load(); n != 1 {
		t.Errorf("%d clock queries for two sign-ins at once, want one shared", n)
	}
}
