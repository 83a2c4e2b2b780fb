package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// testOutboxSupersede (review s20 X20-4): an event written with Supersedes makes the older
// events it names of its own key superseded when they are pending and not in flight: they are
// never claimed, retried or failed again, they no longer hold the key, they are counted, and
// they are purged as delivered events are; Supersedes is left naming them only. Events of
// another key, and unknown ids, are left alone.
func testOutboxSupersede(t *testing.T, h *H) {
	old1 := event("k")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old1)...), "Enqueue(old1)")
	first := h.claim(h.Now.Add(time.Second), 10)
	ssotest.Equal(t, ids(first), []string{old1.ID}, "first claim")
	// The receiver fails it: it backs off for an hour, holding the key.
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, old1.ID, first[0].LeaseUntil, h.Now.Add(time.Hour), "500", false), "MarkFailed(old1)")
	old2, other := event("k"), event("other")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old2, other)...), "Enqueue(old2, other)")
	newer := event("k")
	newer.Type = "user.deactivated"
	newer.Supersedes = []string{old1.ID, old2.ID, other.ID, ssotest.RandomID()}
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	got := slices.Clone(newer.Supersedes)
	slices.Sort(got)
	want := []string{old1.ID, old2.ID}
	slices.Sort(want)
	ssotest.Equal(t, got, want, "Supersedes after the write")
	for _, id := range []string{old1.ID, old2.ID} {
		ev, err := h.S.OutboxEvent(h.Ctx, id)
		ssotest.NoErr(t, err, "OutboxEvent(superseded)")
		if ev.State != store.OutboxSuperseded || ev.DeliveredAt.IsZero() {
			t.Fatalf("superseded event = %+v", ev)
		}
	}
	if ev, _ := h.S.OutboxEvent(h.Ctx, other.ID); ev.State != store.OutboxPending {
		t.Fatalf("another key's event became %s", ev.State)
	}
	// The newer event is the key's head at once; nothing older of the key is sent after it.
	claimed := h.claim(h.Now.Add(2*time.Second), 10)
	got = ids(claimed)
	slices.Sort(got)
	want = []string{newer.ID, other.ID}
	slices.Sort(want)
	ssotest.Equal(t, got, want, "claim after the supersede")
	for _, e := range claimed {
		ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, e.ID, e.LeaseUntil, h.Now.Add(2*time.Second)), "MarkDelivered")
	}
	if again := h.claim(h.Now.Add(2*time.Hour), 10); len(again) != 0 {
		t.Fatalf("claimed %v after the newer event was delivered", ids(again))
	}
	// A late outcome of the superseded event's old claim records nothing.
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, old1.ID, first[0].LeaseUntil, h.Now.Add(time.Hour), "late", false), store.ErrLeaseLost, "MarkFailed(superseded)")
	if n, err := h.S.RetryEvents(h.Ctx, "", h.Now.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("RetryEvents(all) = %d, %v; want 0", n, err)
	}
	if _, err := h.S.RetryEvents(h.Ctx, old1.ID, h.Now.Add(time.Minute)); err == nil {
		t.Fatal("RetryEvents re-queued a superseded event")
	}
	ssotest.IsErr(t, h.S.DiscardEvent(h.Ctx, old1.ID), store.ErrNotDead, "DiscardEvent(superseded)")
	counts, err := h.S.OutboxCounts(h.Ctx)
	ssotest.NoErr(t, err, "OutboxCounts")
	if counts[store.OutboxSuperseded] != 2 || counts[store.OutboxPending] != 0 || counts[store.OutboxDelivered] != 2 {
		t.Fatalf("counts = %v", counts)
	}
	sup, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{State: store.OutboxSuperseded, Key: "k"})
	ssotest.NoErr(t, err, "OutboxEvents(superseded)")
	ssotest.Equal(t, ids(sup), []string{old1.ID, old2.ID}, "OutboxEvents(superseded, key)")
	// Purged with the delivered events.
	n, err := h.S.PurgeDelivered(h.Ctx, h.Now.Add(time.Hour))
	ssotest.NoErr(t, err, "PurgeDelivered")
	if n != 4 {
		t.Fatalf("PurgeDelivered = %d, want 4", n)
	}
	if _, err := h.S.OutboxEvent(h.Ctx, old1.ID); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("superseded event after the purge: %v", err)
	}
}

// testOutboxSupersedeInFlight: an older event in flight (leased) is not superseded: its
// attempt finishes, and the newer event waits for it as for any older event of its key.
func testOutboxSupersedeInFlight(t *testing.T, h *H) {
	old := event("k")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old)...), "Enqueue(old)")
	leased := h.claim(h.Now.Add(time.Second), 10)
	ssotest.Equal(t, ids(leased), []string{old.ID}, "claim")
	newer := event("k")
	newer.Supersedes = []string{old.ID}
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	if len(newer.Supersedes) != 0 {
		t.Fatalf("Supersedes = %v, want none (in flight)", newer.Supersedes)
	}
	if ev, _ := h.S.OutboxEvent(h.Ctx, old.ID); ev.State != store.OutboxPending {
		t.Fatalf("the event in flight became %s", ev.State)
	}
	if got := h.claim(h.Now.Add(2*time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed %v while the older event is in flight", ids(got))
	}
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, old.ID, leased[0].LeaseUntil, h.Now.Add(2*time.Second)), "MarkDelivered(old)")
	ssotest.Equal(t, ids(h.claim(h.Now.Add(3*time.Second), 10)), []string{newer.ID}, "claim after the older delivery")
}

// testShadowPutSupersedes: the events of a shadow user's write supersede in the write's
// transaction (PutShadowUser, PutShadowUserIf and Deactivate write them as Enqueue does), and
// a write that changes nothing writes no event and supersedes nothing.
func testShadowPutSupersedes(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	key := "webhook|portal|" + sub
	ev := func() *store.OutboxEvent {
		e := event(key)
		e.Subject = sub
		return e
	}
	created := ev()
	_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true), created)
	ssotest.NoErr(t, err, "PutShadowUser(d1)")
	same := ev()
	same.Supersedes = []string{created.ID}
	wrote, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true), same)
	ssotest.NoErr(t, err, "PutShadowUser(d1 again)")
	if wrote {
		t.Fatal("an unchanged shadow user was written")
	}
	if e, _ := h.S.OutboxEvent(h.Ctx, created.ID); e.State != store.OutboxPending {
		t.Fatalf("an unwritten event superseded: the first event is %s", e.State)
	}
	prev, err := h.S.ShadowUser(h.Ctx, "portal", sub)
	ssotest.NoErr(t, err, "ShadowUser")
	epoch, e0 := "supersede-"+sub, time.Unix(1_700_000_000, 0)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e0), "SetWatermark")
	updated := ev()
	updated.Supersedes = []string{created.ID}
	_, err = h.S.PutShadowUserIf(h.Ctx, store.ShadowCond{Epoch: epoch, EpochValue: e0, Prev: prev}, shadow("portal", sub, "d2", true), updated)
	ssotest.NoErr(t, err, "PutShadowUserIf(d2)")
	ssotest.Equal(t, updated.Supersedes, []string{created.ID}, "PutShadowUserIf's Supersedes")
	deact := ev()
	deact.Supersedes = []string{updated.ID}
	_, err = h.S.Deactivate(h.Ctx, &store.Deactivation{Subject: sub,
		Users: []store.ShadowUpdate{{User: shadow("portal", sub, "d3", false), Events: []*store.OutboxEvent{deact}}}})
	ssotest.NoErr(t, err, "Deactivate")
	ssotest.Equal(t, deact.Supersedes, []string{updated.ID}, "Deactivate's Supersedes")
	all, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{Key: key})
	ssotest.NoErr(t, err, "OutboxEvents(key)")
	var states []string
	for _, e := range all {
		states = append(states, e.State)
	}
	ssotest.Equal(t, states, []string{store.OutboxSuperseded, store.OutboxSuperseded, store.OutboxPending}, "states of the key's events")
}
