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
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// countersDown is a store whose throttle counters fail while down is set (the rest works).
type countersDown struct {
	store.Store
	down atomic.Bool
}

var errCountersDown = errors.New("counters down")

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

// TestSharedThrottleFailsClosed: with the throttle's counters in the store and the store's
// counters failing, a right password is refused with the "try again later" page (503), the
// password grant with RFC 6749 temporarily_unavailable (503), and a new authorization request
// too; nobody is let through uncounted. Once the counters work again, sign-in works.
func TestSharedThrottleFailsClosed(t *testing.T) {
	var cd *countersDown
	e := newEnvDeps(t, false, nil, envDeps{sharedThrottles: true, store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		cd = &countersDown{Store: s}
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

	cd.down.Store(false)
	if code := e.signIn(e.browser(), web.AuthCodeURL("s3"), "alice", "alice-password"); code == "" {
		t.Fatal("no code once the counters are back")
	}
}
