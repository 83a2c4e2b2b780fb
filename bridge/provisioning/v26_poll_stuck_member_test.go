package provisioning_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// brokenFor is the bridge's decider, except that one member's access rule at one app cannot be
// evaluated (an expression that fails on that member's data), every time.
type brokenFor struct {
	access.Decider
	subject, client string
}

func (b brokenFor) Decide(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) access.Decision {
	if subject == b.subject && clientID == b.client {
		return ruleError
	}
	return b.Decider.Decide(ctx, m, subject, clientID, now)
}

// Review s26 V-3: Poll stops at the first member whose sync fails and keeps the watermark
// before that member's change, "retried at the next poll". A failure that does not pass by
// itself (one app's access rule or claim policy failing on this member's data, which
// TestOneAppsBrokenRuleHoldsNothingBack makes Sync answer as an error so that it runs again; a
// contract fault of the member's rows, which ChangedSince itself answers for the whole page) is
// met again at every poll: every member changed after it, in the same page or later, is never
// handled by polling, for as long as it lasts (until the next reconcile pass, for good with
// reconcile_interval: 0). Here alice's rule at the portal fails; bob is disabled a little after
// alice's change: two polls later bob still has his session and is active at the portal.
func TestV26OneMembersFailureDoesNotHoldBackThePoll(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	const bobSub = "sub-bob"
	if err := f.st.PutSubject(ctx, &store.Subject{Subject: bobSub, MemberKey: "22222222-2222-2222-2222-222222222222", Login: "bob"}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{aliceSub, bobSub} {
		if err := f.svc.Provision(ctx, "portal", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
	sess := h.CreateSession(bobSub, "portal")
	now := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	o := withOutbox(f.opts, f.clients, f.keys) // the default decider, to wrap
	f.opts.Access = brokenFor{Decider: o.Access, subject: aliceSub, client: "portal"}
	f.start()

	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Renamed" })
	f.dir.Touch("alice", now.Add(-30*time.Second))
	f.dir.Update("bob", func(m *legacy.Member) { m.Standing.Disabled = true }) // stamped now
	for range 2 {
		_, err := f.svc.Poll(ctx)
		t.Logf("poll: %v", err)
	}
	if _, err := f.st.Session(ctx, sess.ID); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("bob, disabled, kept his session after two polls (%v): alice's failing sync holds the poll back", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", bobSub)
	if err != nil {
		t.Fatal(err)
	}
	if su.Active {
		t.Error("bob, disabled, is still active at the portal after two polls")
	}
}
