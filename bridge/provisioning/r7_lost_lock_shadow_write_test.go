package provisioning_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// afterScan is an AMS whose first change scan runs during after it has read its answer.
type afterScan struct {
	*bridgetest.Directory
	once   sync.Once
	during func()
}

func (d *afterScan) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := d.Directory.ChangedSince(ctx, since, limit)
	d.once.Do(d.during)
	return ms, next, err
}

// TestR7LostLockShadowWriteIsStale (review s28 R7-2): P's fence (R5-6 b) guards the poll's
// progress (retry list, watermark) and the epoch, not its shadow-user writes. Replica A reads
// alice (allowed) in its scan and stalls there; its sync lock's session ends. The AMS then
// disables alice, and replica B takes the lock, polls, deactivates her at the portal and moves
// the watermark past her change. A resumes and syncs her from its stale read: PutShadowUser,
// unfenced, makes her active at the portal again (an "active" event to the app). A's progress
// is fenced, but B's watermark is already past the disabling change, so no later poll reads
// her again: she stays active downstream until a reconcile pass (never, with
// reconcile_interval: 0).
func TestR7LostLockShadowWriteIsStale(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Renamed" })
	f.dir.Touch("alice", start.Add(-30*time.Minute))
	disabled := start.Add(-10 * time.Minute)

	// Replica B, with its own lock.
	ob := f.opts
	ob.Store = f.st
	b := provisioning.New(withOutbox(ob, f.clients, f.keys))
	var bErr error
	var bActive bool
	var bMark time.Time

	// Replica A: after its scan read alice, the AMS disables her and B polls.
	f.opts.Directory = &afterScan{Directory: f.dir, during: func() {
		f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
		f.dir.Touch("alice", disabled)
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
	if bErr != nil || bActive || bMark.Before(disabled) {
		t.Fatalf("B's poll: %v, alice active at the portal %v, watermark %s; want her deactivated and the watermark at her change %s",
			bErr, bActive, bMark, disabled)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's poll: %v; want its progress refused (store.ErrFenced)", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	if su.Active {
		t.Errorf("after A's poll alice is active at the portal again: A, without the lock, wrote her shadow user from its stale read")
	}
	// The next poll (B's) does not read her again: the watermark is past her change.
	if _, err := b.Poll(ctx); err != nil {
		t.Fatalf("B's next poll: %v", err)
	}
	if su, err := f.st.ShadowUser(ctx, "portal", aliceSub); err != nil {
		t.Fatal(err)
	} else if su.Active {
		t.Errorf("after B's next poll alice is still active at the portal, though disabled in the AMS: nothing reads her again but a reconcile pass")
	}
}
