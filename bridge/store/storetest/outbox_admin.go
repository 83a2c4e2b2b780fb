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
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dead, pending, delivered), "Enqueue")
	h.claim(h.Now.Add(time.Second), 10)
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, dead.ID, h.Now, "x", true), "MarkFailed(dead)")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, pending.ID, h.Now.Add(time.Hour), "y", false), "MarkFailed(retry)")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, h.Now), "MarkDelivered")
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
