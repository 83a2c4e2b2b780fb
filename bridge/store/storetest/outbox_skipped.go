package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// testOutboxSkipped: an event whose deliverer found nothing to send (MarkSkipped) is done
// without being delivered (review s23 X2-2: it was recorded as delivered): it is skipped, says
// why, is counted apart from the delivered ones, lets its key's next event go, stays skipped
// whatever outcome comes late, is never retried, and is purged as the delivered ones are. A
// stale claim records nothing (ErrLeaseLost), an unknown event is sso.ErrNotFound.
func testOutboxSkipped(t *testing.T, h *H) {
	first, next, other := event("k"), event("k"), event("o")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, first, next, other)...), "Enqueue")
	at := h.Now.Add(time.Minute)
	lease := leases(h.claimExactly(at, "claim", first, other))

	ssotest.IsErr(t, h.S.MarkSkipped(h.Ctx, other.ID, lease[other.ID].Add(-time.Second), at, "stale"), store.ErrLeaseLost,
		"MarkSkipped by a stale claim")
	ssotest.IsErr(t, h.S.MarkSkipped(h.Ctx, "no-such-event", time.Time{}, at, "x"), sso.ErrNotFound, "MarkSkipped of an unknown event")
	why := "nothing to send: client x has no backchannel_logout_uri"
	ssotest.NoErr(t, h.S.MarkSkipped(h.Ctx, first.ID, lease[first.ID], at, why), "MarkSkipped")
	got, err := h.S.OutboxEvent(h.Ctx, first.ID)
	ssotest.NoErr(t, err, "OutboxEvent")
	ssotest.Equal(t, got.State, store.OutboxSkipped, "its state")
	ssotest.Equal(t, got.LastError, why, "its note")
	ssotest.Equal(t, got.DeliveredAt.Equal(at), true, "its DeliveredAt is when it was skipped")

	// Late outcomes leave it skipped.
	ssotest.NoErr(t, h.S.MarkSkipped(h.Ctx, first.ID, lease[first.ID], at, why), "MarkSkipped again")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, first.ID, lease[first.ID], at), "MarkDelivered after MarkSkipped")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, first.ID, lease[first.ID], at, "late", true), "MarkFailed after MarkSkipped")
	got, err = h.S.OutboxEvent(h.Ctx, first.ID)
	ssotest.NoErr(t, err, "OutboxEvent")
	ssotest.Equal(t, got.State, store.OutboxSkipped, "its state after late outcomes")

	counts, err := h.S.OutboxCounts(h.Ctx)
	ssotest.NoErr(t, err, "OutboxCounts")
	ssotest.Equal(t, counts[store.OutboxSkipped], 1, "skipped count")
	ssotest.Equal(t, counts[store.OutboxDelivered], 0, "delivered count")
	skipped, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{State: store.OutboxSkipped})
	ssotest.NoErr(t, err, "OutboxEvents(skipped)")
	ssotest.Equal(t, ids(skipped), []string{first.ID}, "skipped events")

	// Its key's next event goes; nothing is retried.
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, other.ID, lease[other.ID], at), "MarkDelivered(other)")
	h.claimExactly(at.Add(time.Minute), "claim after the skip", next)
	n, err := h.S.RetryEvents(h.Ctx, first.ID, at)
	if err == nil || n != 0 {
		t.Fatalf("RetryEvents of a skipped event = %d, %v; want an error (not dead)", n, err)
	}

	// Purged with the delivered ones.
	purged, err := h.S.PurgeDelivered(h.Ctx, at.Add(time.Second))
	ssotest.NoErr(t, err, "PurgeDelivered")
	ssotest.Equal(t, purged, int64(2), "purged (the skipped and the delivered)")
	_, err = h.S.OutboxEvent(h.Ctx, first.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "the skipped event after PurgeDelivered")
}
