package provisioning_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
)

// TestR3UnconfirmedLapseDoesNotSyncOtherAppsFromTheBadRead (review s26 R3-5): when a read lapses
// alice at a require_current app (portal) and the second read contradicts it, syncUsers leaves
// the portal as it was (ErrRefusalUnconfirmed), but her other app (events) is still synced from
// the first read, which the second has just shown wrong: the roles that read lacked are
// removed at events, and the event is queued downstream. The confirmation guards the ending of
// sessions and tokens, not the data sent to the other apps in the same sync.
func TestR3UnconfirmedLapseDoesNotSyncOtherAppsFromTheBadRead(t *testing.T) {
	r := newReconcileFixture(t)
	ams := &flicker{listing: r.list, spoil: func(m *legacy.Member) {
		m.PaidThrough = time.Now().AddDate(0, -1, 0)
		m.Roles = []string{} // read mid-save: her role rows not there
	}}
	portal := r.opts.Targets["portal"]
	portal.RequireCurrent = true
	r.opts.Targets = map[string]provisioning.Target{"portal": portal,
		"events": {Settings: &webhook.Config{URL: "https://events.example.org/hook", Secret: webhookSecret}}}
	r.opts.Directory = cache.New(ams, cache.Options{TTL: time.Hour})
	r.start()
	ctx := t.Context()
	if err := r.svc.Provision(ctx, "events", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	before := r.shadowUser(aliceSub) // portal
	if !before.Active {
		t.Fatal("alice not active at the portal before")
	}
	r.dir.Touch("alice", time.Now())
	ams.mu.Lock()
	ams.reads, ams.dirty = nil, 1
	ams.mu.Unlock()
	_, _ = r.svc.Poll(ctx) // ErrRefusalUnconfirmed for the portal
	if !r.shadowUser(aliceSub).Active {
		t.Fatal("alice deactivated at the portal on one read")
	}
	ev, err := r.st.ShadowUser(ctx, "events", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(ev.View, &u); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(u.Roles, "Member") {
		t.Fatalf("alice's roles at events = %q after a read the second read contradicted; want her roles kept (reads %q)", u.Roles, ams.readsOfAlice())
	}
}
