package provisioning_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// portalRuleByName is the bridge's decider, except that the portal's access rule refuses a
// member whose full name is lapsedName (a per-app lapse read from the member's own data, so
// that a stale read of the AMS lapses and a newer one does not).
type portalRuleByName struct{ access.Decider }

const lapsedName = "Alice Lapsed"

func (d portalRuleByName) Decide(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) access.Decision {
	if clientID == "portal" && m != nil && m.FullName == lapsedName {
		return notAdmit
	}
	return d.Decider.Decide(ctx, m, subject, clientID, now)
}

// TestR10LostLockStaleLapseAtOneAppWritesNothing (review s28 R10-1): the lapse at one app
// (syncUser's Deactivate with RevokeClient) is fenced like the refusal everywhere
// (TestLostLockStaleDeactivationWritesNothing), which no test covered. Replica A reads alice
// lapsed at the portal (its access rule refuses her) in its scan and in the read confirming
// it, and stalls there; its sync lock's session ends. The AMS re-qualifies her and replica B
// polls: she stays active at the portal and B's watermark moves past her change. A resumes and
// deactivates her at the portal from its stale reads. Without the fence on that deactivation
// she is inactive there (its grants revoked) though the rule admits her, and no later poll
// reads her again; with it, A's deactivation writes nothing and its poll says store.ErrFenced.
func TestR10LostLockStaleLapseAtOneAppWritesNothing(t *testing.T) {
	targets := map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}}
	f := newFixture(t, targets, clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.opts.Access = portalRuleByName{access.New(nil, provisioning.RequireCurrentClients(targets), slog.New(slog.DiscardHandler))}
	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = lapsedName })
	f.dir.Touch("alice", start.Add(-30*time.Minute))
	requalified := start.Add(-10 * time.Minute)

	// Replica B, with its own lock and the same rule.
	ob := f.opts
	ob.Store = f.st
	b := provisioning.New(withOutbox(ob, f.clients, f.keys))
	var bErr error
	var bActive bool
	var bMark time.Time

	// Replica A: after its confirming read found alice lapsed at the portal, the AMS
	// re-qualifies her and B polls.
	f.opts.Directory = &afterConfirm{Directory: f.dir, during: func() {
		f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Again" })
		f.dir.Touch("alice", requalified)
		_, bErr = b.Poll(ctx)
		su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
		if err != nil {
			t.Errorf("alice's shadow user after B's poll: %v", err)
			return
		}
		bActive = su.Active
		bMark, _ = f.st.Watermark(ctx, provisioning.WatermarkName)
	}}
	f.start()
	_, err := f.svc.Poll(ctx)
	if bErr != nil || !bActive || bMark.Before(requalified) {
		t.Fatalf("B's poll: %v, alice active at the portal %v, watermark %s; want her active and the watermark at her change %s",
			bErr, bActive, bMark, requalified)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's poll: %v; want its deactivation refused (store.ErrFenced)", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	if !su.Active {
		t.Errorf("after A's poll alice is inactive at the portal: A, without the lock, lapsed her there from its stale reads")
	}
}
