package provisioning_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// switchedRule is the bridge's decider, except that alice's access rule at the portal cannot
// be evaluated while broken is set.
type switchedRule struct {
	access.Decider
	broken *atomic.Bool
}

func (b switchedRule) Decide(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) access.Decision {
	if b.broken.Load() && subject == aliceSub && clientID == "portal" {
		return ruleError
	}
	return b.Decider.Decide(ctx, m, subject, clientID, now)
}

// TestPollRetriesAStuckMemberByKey (review s26 V-3): a member whose sync keeps failing keeps
// the watermark before its change for 3 polls (read again by each), then no longer: the
// watermark moves past it, and the member is retried by key at the next polls until its sync
// succeeds (the rule fixed), without a change of its own in the AMS.
func TestPollRetriesAStuckMemberByKey(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	f.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	f.dir.Clock = f.opts.Now // the AMS's clock runs with the bridge's (its own bounds the watermark)
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	broken.Store(true)
	o := withOutbox(f.opts, f.clients, f.keys)
	f.opts.Access = switchedRule{Decider: o.Access, broken: &broken}
	f.start()
	changed := start.Add(-30 * time.Second)
	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Renamed" })
	f.dir.Touch("alice", changed)

	for poll := 1; poll <= 3; poll++ {
		if _, err := f.svc.Poll(ctx); err == nil {
			t.Fatalf("poll %d: no error; want alice's failure named", poll)
		}
		mark, err := f.st.Watermark(ctx, provisioning.WatermarkName)
		if err != nil {
			t.Fatal(err)
		}
		if held := mark.Before(changed); held != (poll < 3) {
			t.Fatalf("after poll %d the watermark is %s, alice's change %s: want it held before for 2 polls, past it after the 3rd",
				poll, mark.Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano))
		}
		clock.Add(int64(10 * time.Minute))
	}
	broken.Store(false) // the rule fixed: no change of alice's in the AMS
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatalf("poll after the fix: %v", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	var u wire.User
	if err := json.Unmarshal(su.View, &u); err != nil {
		t.Fatal(err)
	}
	if u.Name != "Alice Renamed" {
		t.Fatalf("alice at the portal: %+v; want her change synced by the retry", u)
	}
	if _, err := f.svc.Poll(ctx); err != nil { // nothing left to retry
		t.Fatalf("next poll: %v", err)
	}
}
