package provisioning_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestR3PollTooManyGoneNotDropped (review s26 R3-1): a poll that finds more deleted contacts than
// shadow.reconcile_max_gone deactivates none of them (F, V-6) but moves its watermark past their
// changes all the same, so the next poll never sees them again: raising the setting, as the
// error says, deactivates nobody, and with reconcile_interval: 0 (no pass to "leave them to")
// the departed members keep their sessions, tokens and downstream accounts for good. The
// CHANGELOG promises the stop "at every resume, until you raise it".
func TestR3PollTooManyGoneNotDropped(t *testing.T) {
	const bobKey = "22222222-2222-2222-2222-222222222222"
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.st.PutSubject(ctx, &store.Subject{Subject: "sub-bob", MemberKey: bobKey, Login: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
	sess := h.CreateSession(aliceSub, "portal")
	h.CreateSession("sub-bob", "portal") // bob has something to end too: only such members count (review s27 R5-2)
	now := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.dir.Remove("alice")
	f.dir.Remove("bob")
	f.opts.Directory = &reportsGone{Directory: f.dir, keys: []string{aliceKey, bobKey}, at: now.Add(-10 * time.Minute)}
	f.opts.Config.ReconcileMaxGone = 1
	f.start()
	if _, err := f.svc.Poll(ctx); !errors.Is(err, provisioning.ErrTooManyGone) {
		t.Fatalf("poll: %v; want ErrTooManyGone", err)
	}
	// The operator raises the bound, as the error tells them to.
	f.opts.Config.ReconcileMaxGone = 2
	f.start()
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatalf("poll with the bound raised: %v", err)
	}
	_, serr := f.st.Session(ctx, sess.ID)
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(serr, sso.ErrNotFound) || su.Active {
		t.Fatalf("alice, deleted from the AMS: session ended %v, active at the portal %v after the bound was raised; want deactivated",
			errors.Is(serr, sso.ErrNotFound), su.Active)
	}
}
