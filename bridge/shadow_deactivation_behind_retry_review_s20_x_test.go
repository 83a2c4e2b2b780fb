package bridge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// TestDeactivationNotHeldBehindAFailingUpdate (review s20 X20-4; README "Shadow users":
// deactivation reaches every app; brief item 3, a member deactivated while a delivery is
// retried): an app's receiver fails one update of a member (a 500 for that payload, a bug on
// its side) while it takes everything else. The member is then disabled in the AMS. The
// deactivation is the member's newest state at the app and must reach it at the next delivery
// round, not wait behind the failing update's retries (12 attempts over about 3.3 hours by
// default) with the shadow user active at the app all that time. Before: the deactivation
// queued behind the retried update (same key, in order) and was not sent.
func TestDeactivationNotHeldBehindAFailingUpdate(t *testing.T) {
	var (
		mu    sync.Mutex
		types []string
	)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev wire.Event
		if json.Unmarshal(b, &ev) != nil || ev.Type == "" {
			http.NotFound(w, r)
			return
		}
		if ev.Type == wire.TypeUpdated {
			http.Error(w, "cannot store this name", http.StatusInternalServerError)
			return
		}
		mu.Lock()
		types = append(types, ev.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(sink.Close)
	e := newEnv(t, func(c *bridge.Config) {
		c.Provisioning = map[string]provisioning.Target{"web": {AllowInternal: true,
			Settings: &webhook.Config{URL: sink.URL, Secret: testWebhookSecret}}}
	})
	ctx := t.Context()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password")
	svc := e.bridge.Shadow()
	if n, _ := svc.DeliverDue(ctx); n != 1 {
		t.Fatalf("first sign-in delivered %d events", n)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.FamilyName = "Archer-Smith" })
	if _, err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	svc.DeliverDue(ctx) // the update fails, and is retried later
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	if _, err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	svc.DeliverDue(ctx)
	mu.Lock()
	got := strings.Join(types, ",")
	mu.Unlock()
	if got != wire.TypeCreated+","+wire.TypeDeactivated {
		t.Fatalf("the app received %q; want the deactivation at once after the creation", got)
	}
	if users, _ := e.store.ShadowUsers(ctx, "web", ""); len(users) != 1 || users[0].Active {
		t.Fatalf("shadow users: %+v", users)
	}
}
