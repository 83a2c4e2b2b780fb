package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// countersDown is a store whose throttle counters fail while down is set (the rest works). It
// has the store's counter steps (store.CounterSteps), which the throttle takes when the store
// has them, and counts the steps that failed.
type countersDown struct {
	store.Store
	steps       store.CounterSteps
	down        atomic.Bool
	failedSteps atomic.Int32
}

var _ store.CounterSteps = (*countersDown)(nil)

var errCountersDown = errors.New("counters down")

// stepDown reports whether the counters are down, counting the step that fails.
func (c *countersDown) stepDown() bool {
	if c.down.Load() {
		c.failedSteps.Add(1)
		return true
	}
	return false
}

func (c *countersDown) ReserveCounters(ctx context.Context, r store.CounterReserve) (store.CounterReserved, error) {
	if c.stepDown() {
		return store.CounterReserved{}, errCountersDown
	}
	return c.steps.ReserveCounters(ctx, r)
}

func (c *countersDown) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	if c.stepDown() {
		return errCountersDown
	}
	return c.steps.UndoCounters(ctx, keys, viaNote, now)
}

func (c *countersDown) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	if c.stepDown() {
		return store.Counter{}, errCountersDown
	}
	return c.steps.ClearCounters(ctx, key, undo, look, now)
}

func (c *countersDown) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	if c.stepDown() {
		return store.Counter{}, errCountersDown
	}
	return c.steps.NoteHitCounter(ctx, key, h, look)
}

func (c *countersDown) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	if c.down.Load() {
		return store.Counter{}, errCountersDown
	}
	return c.Store.HitCounter(ctx, h)
}

func (c *countersDown) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	if c.down.Load() {
		return "", errCountersDown
	}
	return c.Store.UndoCounter(ctx, key, now)
}

func (c *countersDown) NoteCounter(ctx context.Context, key, note string) error {
	if c.down.Load() {
		return errCountersDown
	}
	return c.Store.NoteCounter(ctx, key, note)
}

func (c *countersDown) ResetCounter(ctx context.Context, key string) (string, error) {
	if c.down.Load() {
		return "", errCountersDown
	}
	return c.Store.ResetCounter(ctx, key)
}

// TestCountersDownConformance: the fake store of TestSharedThrottleFailsClosed, with its
// counters up, passes the store conformance suite (as every fake must): it changes nothing of
// what the store it wraps does, steps included. Over a SQLite file store, as in that test,
// each case on a copy of one migrated database (migratedSQLite).
func TestCountersDownConformance(t *testing.T) {
	t.Parallel() // its own stores
	open := migratedSQLite(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t)
		return &countersDown{Store: s, steps: s}
	})
}

// TestSharedThrottleFailsClosed: with the throttle's counters in the store and the store's
// counters failing, a right password is refused with the "try again later" page (503), the
// password grant with RFC 6749 temporarily_unavailable (503), and a new authorization request
// too; nobody is let through uncounted. Once the counters work again, sign-in works. On SQLite
// and PostgreSQL, through the stores' counter steps (the sign-in's path on both): a throttle that
// went round them, or that let a failed step through, fails here.
func TestSharedThrottleFailsClosed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testSharedThrottleFailsClosed(t, func(t testing.TB) store.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pgtest.AdminDSN(t)
		testSharedThrottleFailsClosed(t, onPostgres("").store)
	})
}

func testSharedThrottleFailsClosed(t *testing.T, open func(t testing.TB) store.Store) {
	var cd *countersDown
	e := newEnvDeps(t, false, nil, envDeps{sharedThrottles: true, store: func(t testing.TB) store.Store {
		s := open(t)
		steps, ok := s.(store.CounterSteps)
		if !ok {
			t.Fatalf("%T has no counter steps", s)
		}
		cd = &countersDown{Store: s, steps: steps}
		return cd
	}}, withGrantClients)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	form := b.Get(web.AuthCodeURL("s"))
	cd.down.Store(true)

	p := b.Login(form, "alice", "alice-password")
	if p.Status != http.StatusServiceUnavailable || p.Location != "" || !strings.Contains(p.Body, "try again in a few minutes") {
		t.Fatalf("sign-in with the counters down: status %d location %q: %.600s", p.Status, p.Location, p.Body)
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "alice",
		"password": "alice-password", "scope": "openid"}, "legacy", legacySecret)
	wantOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
	if p := e.browser().Get(web.AuthCodeURL("s2")); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "try again") {
		t.Fatalf("authorize with the counters down: status %d: %.400s", p.Status, p.Body)
	}

	// The sign-in's and the password grant's Reserve (the authorization request meets the
	// anonymous-write limiter's counter, one HitCounter).
	if n := cd.failedSteps.Load(); n != 2 {
		t.Errorf("%d counter steps failed, want 2 (the sign-in's and the password grant's reservations)", n)
	}

	cd.down.Store(false)
	if code := e.signIn(e.browser(), web.AuthCodeURL("s3"), "alice", "alice-password"); code == "" {
		t.Fatal("no code once the counters are back")
	}
}
