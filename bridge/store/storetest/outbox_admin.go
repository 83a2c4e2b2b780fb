package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// testOutboxDiscard: only a dead event is discarded, once; pending and delivered ones stay.
func testOutboxDiscard(t *testing.T, h *H) {
	dead, pending, delivered := event("a"), event("b"), event("c")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, dead, pending, delivered)...), "Enqueue")
	lease := leases(h.claimExactly(h.Now.Add(time.Second), "claim", dead, pending, delivered))
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, dead.ID, lease[dead.ID], h.Now, "x", true), "MarkFailed(dead)")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, pending.ID, lease[pending.ID], h.Now.Add(time.Hour), "y", false), "MarkFailed(retry)")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, lease[delivered.ID], h.Now), "MarkDelivered")
	for _, e := range []*store.OutboxEvent{pending, delivered} {
		ssotest.IsErr(t, h.S.DiscardEvent(h.Ctx, e.ID), store.ErrNotDead, "DiscardEvent(%s)", e.ID)
		if _, err := h.S.OutboxEvent(h.Ctx, e.ID); err != nil {
			t.Fatalf("a refused discard removed the event: %v", err)
		}
	}
	ssotest.NoErr(t, h.S.DiscardEvent(h.Ctx, dead.ID), "DiscardEvent(dead)")
	_, err := h.S.OutboxEvent(h.Ctx, dead.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "OutboxEvent after discard")
	ssotest.IsErr(t, h.S.DiscardEvent(h.Ctx, dead.ID), sso.ErrNotFound, "DiscardEvent again")
	ssotest.IsErr(t, h.S.DiscardEvent(h.Ctx, ssotest.RandomID()), sso.ErrNotFound, "DiscardEvent(unknown)")
	counts, err := h.S.OutboxCounts(h.Ctx)
	ssotest.NoErr(t, err, "OutboxCounts")
	if counts[store.OutboxDead] != 0 || counts[store.OutboxPending] != 1 || counts[store.OutboxDelivered] != 1 {
		t.Fatalf("counts after discard = %v", counts)
	}
}

// testOutboxTargets: pending and dead events are counted per channel and client, with the oldest
// pending creation time; delivered events and targets with nothing waiting are left out.
func testOutboxTargets(t *testing.T, h *H) {
	mk := func(key, channel, client string, created time.Time) *store.OutboxEvent {
		e := event(key)
		e.Channel, e.ClientID, e.CreatedAt = channel, client, created
		return e
	}
	t0 := h.Now.Add(-time.Hour).Truncate(time.Millisecond)
	p1 := mk("k1", "webhook", "portal", t0.Add(2*time.Minute))
	p2 := mk("k2", "webhook", "portal", t0)
	p3 := mk("k3", "webhook", "portal", t0.Add(time.Minute))
	d1 := mk("k4", "webhook", "portal", t0.Add(-time.Hour))
	d2 := mk("k5", "webhook", "crm", t0)
	done := mk("k6", "scim", "portal", t0)
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, d1, d2, done)...), "Enqueue")
	lease := leases(h.claimExactly(h.Now.Add(time.Second), "claim", d1, d2, done))
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, d1.ID, lease[d1.ID], h.Now, "x", true), "MarkFailed(d1)")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, d2.ID, lease[d2.ID], h.Now, "x", true), "MarkFailed(d2)")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, done.ID, lease[done.ID], h.Now), "MarkDelivered")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, p1, p2, p3)...), "Enqueue(pending)")

	got, err := h.S.OutboxTargets(h.Ctx)
	ssotest.NoErr(t, err, "OutboxTargets")
	want := []store.OutboxTarget{
		{Channel: "webhook", ClientID: "crm", Dead: 1},
		{Channel: "webhook", ClientID: "portal", Pending: 3, Dead: 1, OldestPending: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("OutboxTargets = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Channel != w.Channel || g.ClientID != w.ClientID || g.Pending != w.Pending || g.Dead != w.Dead ||
			!g.OldestPending.Equal(w.OldestPending) {
			t.Errorf("OutboxTargets[%d] = %+v, want %+v", i, g, w)
		}
	}

	// Nothing waiting: no targets at all.
	ssotest.NoErr(t, h.S.DiscardEvent(h.Ctx, d1.ID), "DiscardEvent(d1)")
	ssotest.NoErr(t, h.S.DiscardEvent(h.Ctx, d2.ID), "DiscardEvent(d2)")
	for _, e := range h.claimExactly(h.Now.Add(time.Second), "claim of the pending", p1, p2, p3) {
		ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, e.ID, e.LeaseUntil, h.Now), "MarkDelivered")
	}
	got, err = h.S.OutboxTargets(h.Ctx)
	ssotest.NoErr(t, err, "OutboxTargets (empty)")
	if len(got) != 0 {
		t.Fatalf("OutboxTargets with nothing waiting = %+v", got)
	}
}
