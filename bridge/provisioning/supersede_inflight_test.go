package provisioning_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// TestNewerStateSupersedesAFailureInFlight (brief s21 G2 item 1): a member's update is in
// flight when their deactivation is written; the app then fails the update. The deactivation
// is sent at once, carrying the update's removed role, not after the update's retries (an hour
// here); the update is superseded, never sent again.
func TestNewerStateSupersedesAFailureInFlight(t *testing.T) {
	var (
		mu       sync.Mutex
		got      []wire.Event
		inFlight = make(chan struct{})
		release  = make(chan struct{})
		held     bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev wire.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		hold := ev.Type == wire.TypeUpdated && !held
		held = held || hold
		if !hold {
			got = append(got, ev)
		}
		mu.Unlock()
		if hold {
			close(inFlight)
			<-release
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: srv.URL, Secret: webhookSecret}}}, clients{})
	f.opts.Config.BackoffMin, f.opts.Config.BackoffMax = time.Hour, time.Hour
	f.start()
	ctx := t.Context()
	f.svc.Provision(ctx, "events", aliceSub, nil)
	if n, _ := f.svc.DeliverDue(ctx); n != 1 {
		t.Fatalf("created: delivered %d", n)
	}
	f.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
	f.svc.Poll(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.svc.DeliverDue(ctx) // the update: in flight until released, then failed
	}()
	<-inFlight
	f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	f.svc.Poll(ctx)
	close(release)
	<-done
	if n, _ := f.svc.DeliverDue(ctx); n != 1 {
		t.Fatalf("the deactivation: delivered %d, want 1 at once", n)
	}
	if c, _ := f.st.OutboxCounts(ctx); c[store.OutboxPending] != 0 || c[store.OutboxSuperseded] != 1 || c[store.OutboxDelivered] != 2 {
		t.Fatalf("counts: %v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[1].Type != wire.TypeDeactivated || !slices.Equal(got[1].RemovedRoles, []string{"Member"}) {
		t.Fatalf("received %+v", got)
	}
}
