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

// afterConfirm is an AMS whose first look-up by key (a refusal's confirming read) runs during
// after it has read its answer.
type afterConfirm struct {
	*bridgetest.Directory
	once   sync.Once
	during func()
}

func (d *afterConfirm) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	m, err := d.Directory.MemberByKey(ctx, key)
	d.once.Do(d.during)
	return m, err
}

// TestLostLockStaleDeactivationWritesNothing (session 28, P2; review s28 R7-2, the other
// direction of TestR7LostLockShadowWriteIsStale): replica A reads alice disabled, in its scan
// and in the read that confirms it, and stalls there; its sync lock's session ends. The AMS
// enables her again and replica B polls: she is allowed, stays active at the portal, and B's
// watermark moves past her change. A resumes and deactivates her from its stale reads. Without
// the fence on the deactivation she is inactive at the portal (and her sessions and grants
// ended) though allowed in the AMS, and no later poll reads her again. With it, A's
// deactivation writes nothing, its poll says store.ErrFenced, and she stays active.
func TestLostLockStaleDeactivationWritesNothing(t *testing.T) {
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
	f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	f.dir.Touch("alice", start.Add(-30*time.Minute))
	enabled := start.Add(-10 * time.Minute)

	// Replica B, with its own lock.
	ob := f.opts
	ob.Store = f.st
	b := provisioning.New(withOutbox(ob, f.clients, f.keys))
	var bErr error
	var bActive bool
	var bMark time.Time

	// Replica A: after its confirming read found alice disabled, the AMS enables her and B polls.
	f.opts.Directory = &afterConfirm{Directory: f.dir, during: func() {
		f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = false })
		f.dir.Touch("alice", enabled)
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
	if bErr != nil || !bActive || bMark.Before(enabled) {
		t.Fatalf("B's poll: %v, alice active at the portal %v, watermark %s; want her active and the watermark at her change %s",
			bErr, bActive, bMark, enabled)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's poll: %v; want its deactivation refused (store.ErrFenced)", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	if !su.Active {
		t.Errorf("after A's poll alice is inactive at the portal: A, without the lock, deactivated her from its stale reads")
	}
	if _, err := b.Poll(ctx); err != nil {
		t.Fatalf("B's next poll: %v", err)
	}
	if su, err := f.st.ShadowUser(ctx, "portal", aliceSub); err != nil {
		t.Fatal(err)
	} else if !su.Active {
		t.Errorf("after B's next poll alice is still inactive at the portal, though allowed in the AMS: nothing reads her again but a reconcile pass")
	}
}

// afterList is an AMS whose first listing runs during after it has read its answer.
type afterList struct {
	*bridgetest.Directory
	once   sync.Once
	during func()
}

func (d *afterList) ListMembers(ctx context.Context, after string, limit int) ([]*legacy.Member, error) {
	ms, err := d.Directory.ListMembers(ctx, after, limit)
	d.once.Do(d.during)
	return ms, err
}

// TestLostLockReconcilePageWritesNothing (session 28, P2; review s28 R7-2): a reconcile page
// holds the sync lock as a poll does, and its member writes are fenced the same way. Replica
// A's page lists alice (allowed) and stalls; the AMS disables her and replica B polls and
// deactivates her. A resumes: without the fence it makes her active at the portal again from
// its stale listing; with it, its page stops with store.ErrFenced and she stays inactive.
func TestLostLockReconcilePageWritesNothing(t *testing.T) {
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
	ob := f.opts
	ob.Store = f.st
	b := provisioning.New(withOutbox(ob, f.clients, f.keys))
	var bErr error
	var bActive bool
	f.opts.Directory = &afterList{Directory: f.dir, during: func() {
		f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
		f.dir.Touch("alice", start.Add(-10*time.Minute))
		_, bErr = b.Poll(ctx)
		su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
		if err != nil {
			t.Errorf("alice's shadow user after B's poll: %v", err)
			return
		}
		bActive = su.Active
	}}
	f.start()
	_, err := f.svc.Reconcile(ctx)
	if bErr != nil || bActive {
		t.Fatalf("B's poll: %v, alice active at the portal %v; want her deactivated", bErr, bActive)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's reconcile: %v; want its page stopped (store.ErrFenced)", err)
	}
	if su, err := f.st.ShadowUser(ctx, "portal", aliceSub); err != nil {
		t.Fatal(err)
	} else if su.Active {
		t.Errorf("after A's reconcile page alice is active at the portal again: A, without the lock, wrote her shadow user from its stale listing")
	}
}
