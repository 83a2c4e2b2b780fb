package provisioning_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestR5PollGoneWithNothingToEndNotCounted (review s27 R5-2): since session 27 (F) the
// reconcile counts towards shadow.reconcile_max_gone only the gone members with something to
// end (an active shadow user, a session, a live grant); the change poll still counts every
// gone member the bridge knows. An AMS purge of contacts who signed in once, long ago, and
// have nothing left (more of them than the bound) makes every poll fail with ErrTooManyGone
// and hold its watermark before the purge for good: the reconcile deactivates them (no-ops,
// not counted), but that does not change what the poll reads, so the stop is said at every
// poll, and each poll reads every change since the purge again, until the operator raises
// the bound for deactivations that end nothing. Fails on main 0e4e18e: both polls answer
// ErrTooManyGone and the watermark stays before the purge.
func TestR5PollGoneWithNothingToEndNotCounted(t *testing.T) {
	const (
		bobKey  = "22222222-2222-2222-2222-222222222222"
		erinKey = "55555555-5555-5555-5555-555555555555"
	)
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	// Two members the bridge knows (they signed in once) with nothing to end: no shadow user,
	// no session, no grant.
	for _, s := range []*store.Subject{{Subject: "sub-bob", MemberKey: bobKey, Login: "bob"}, {Subject: "sub-erin", MemberKey: erinKey, Login: "erin"}} {
		if err := f.st.PutSubject(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	f.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.dir.Remove("bob")
	purged := now.Add(-10 * time.Minute)
	f.opts.Directory = &reportsGone{Directory: f.dir, keys: []string{bobKey, erinKey}, at: purged}
	f.opts.Config.ReconcileMaxGone = 1
	f.start()
	if _, err := f.svc.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile (bob and erin gone, nothing to end, not counted): %v", err)
	}
	for poll := 1; poll <= 2; poll++ {
		if _, err := f.svc.Poll(ctx); errors.Is(err, provisioning.ErrTooManyGone) {
			t.Fatalf("poll %d after the reconcile handled them: %v; want deactivations that end nothing not counted, as the reconcile does", poll, err)
		}
		clock.Add(int64(10 * time.Minute))
	}
	mark, err := f.st.Watermark(ctx, provisioning.WatermarkName)
	if err != nil {
		t.Fatal(err)
	}
	if mark.Before(purged) {
		t.Fatalf("watermark %s, still before the purge at %s", mark.Format(time.RFC3339), purged.Format(time.RFC3339))
	}
}
