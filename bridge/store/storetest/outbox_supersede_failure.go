package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// inFlightStoodFor claims a new event of key and writes a newer one naming it in Supersedes
// while it is in flight (so not superseded at once); it returns both, the older as claimed.
// Both are due at h.Now (dueAt), not when the store's clock enqueued them; whether the older is
// in flight is still the store's clock against its lease (h.Now+1s+1m): a run would have to take a
// minute for it to look free.
func (h *H) inFlightStoodFor(key string) (old, newer *store.OutboxEvent) {
	h.T.Helper()
	old = event(key)
	ssotest.NoErr(h.T, h.S.Enqueue(h.Ctx, dueAt(h.Now, old)...), "Enqueue(old)")
	leased, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: h.Now.Add(time.Second), Lease: time.Minute, Limit: 1, Key: key})
	ssotest.NoErr(h.T, err, "ClaimEvents(key)")
	ssotest.Equal(h.T, ids(leased), []string{old.ID}, "claim(old)")
	newer = event(key)
	newer.Supersedes = []string{old.ID}
	ssotest.NoErr(h.T, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	if len(newer.Supersedes) != 0 {
		h.T.Fatalf("Supersedes = %v, want none (in flight)", newer.Supersedes)
	}
	ssotest.Equal(h.T, newer.SupersedesOnFailure, []string{old.ID}, "SupersedesOnFailure")
	return leased[0], newer
}

// on is h for subtest t.
func (h *H) on(t *testing.T) *H {
	c := *h
	c.T = t
	return &c
}

// testOutboxSupersedeOnFailure (brief s21 G2 item 1, X20-4's rest): an event in flight when a
// newer event of its key named it, whose attempt then fails to be retried, is superseded in
// the write that records the failure (ErrSuperseded): the newer event is the key's head at once,
// not after the failed one's backoff; the failure is kept (last_error), the old claim's replayed
// outcome records nothing, and it is never retried, discarded or claimed again.
func testOutboxSupersedeOnFailure(t *testing.T, h *H) {
	old, newer := h.inFlightStoodFor("k")
	err := h.S.MarkFailed(h.Ctx, old.ID, old.LeaseUntil, h.Now.Add(time.Hour), "500", false)
	ssotest.IsErr(t, err, store.ErrSuperseded, "MarkFailed(old, retry)")
	ev, err := h.S.OutboxEvent(h.Ctx, old.ID)
	ssotest.NoErr(t, err, "OutboxEvent(old)")
	if ev.State != store.OutboxSuperseded || ev.DeliveredAt.IsZero() || ev.LastError != "500" || !ev.LeaseUntil.IsZero() {
		t.Fatalf("old after its failure = %+v", ev)
	}
	// Replayed outcomes of the old claim record nothing.
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, old.ID, old.LeaseUntil, h.Now.Add(time.Hour), "again", false), store.ErrLeaseLost, "MarkFailed(old) again")
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, old.ID, old.LeaseUntil, h.Now.Add(2*time.Second)), store.ErrLeaseLost, "MarkDelivered(old) late")
	ssotest.IsErr(t, h.S.DiscardEvent(h.Ctx, old.ID), store.ErrNotDead, "DiscardEvent(old)")
	if n, err := h.S.RetryEvents(h.Ctx, "", h.Now.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("RetryEvents(all) = %d, %v; want 0", n, err)
	}
	// The newer event goes at once, and nothing older of the key after it.
	ssotest.Equal(t, ids(h.claim(h.Now.Add(2*time.Second), 10)), []string{newer.ID}, "claim after the failure")
	counts, err := h.S.OutboxCounts(h.Ctx)
	ssotest.NoErr(t, err, "OutboxCounts")
	if counts[store.OutboxSuperseded] != 1 || counts[store.OutboxPending] != 1 {
		t.Fatalf("counts = %v", counts)
	}
}

// testOutboxSupersedeOnFailureOutcomes: the other outcomes of the event in flight. Delivered:
// delivered, the newer one sent after it. Dead (a refusal for good): dead, for the operator to
// see, and the newer one sent next (a dead event holds no key). A failure of an event in flight
// that no newer event named: retried, the newer one waiting for it as before. A newer event
// itself superseded before the failure passes its place to the newest: the failure supersedes
// the old one and the newest is sent.
func testOutboxSupersedeOnFailureOutcomes(t *testing.T, h *H) {
	at := h.Now.Add(2 * time.Second)
	t.Run("Delivered", func(t *testing.T) {
		h := h.on(t)
		old, newer := h.inFlightStoodFor("delivered")
		ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, old.ID, old.LeaseUntil, at), "MarkDelivered(old)")
		if ev, _ := h.S.OutboxEvent(h.Ctx, old.ID); ev.State != store.OutboxDelivered {
			t.Fatalf("old = %s", ev.State)
		}
		ssotest.Equal(t, ids(h.claim(at, 10)), []string{newer.ID}, "claim after the delivery")
	})
	t.Run("Dead", func(t *testing.T) {
		h := h.on(t)
		old, newer := h.inFlightStoodFor("dead")
		ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, old.ID, old.LeaseUntil, at, "410", true), "MarkFailed(old, dead)")
		if ev, _ := h.S.OutboxEvent(h.Ctx, old.ID); ev.State != store.OutboxDead {
			t.Fatalf("old = %s", ev.State)
		}
		ssotest.Equal(t, ids(ofKey(h.claim(at, 10), "dead")), []string{newer.ID}, "claim after the dead letter")
	})
	t.Run("NotNamed", func(t *testing.T) {
		h := h.on(t)
		old := event("unnamed")
		ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old)...), "Enqueue(old)")
		leased := h.claim(h.Now.Add(time.Second), 10)
		ssotest.Equal(t, ids(leased), []string{old.ID}, "claim(old)")
		newer := event("unnamed")
		ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
		ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, old.ID, leased[0].LeaseUntil, h.Now.Add(time.Hour), "500", false), "MarkFailed(old)")
		if ev, _ := h.S.OutboxEvent(h.Ctx, old.ID); ev.State != store.OutboxPending {
			t.Fatalf("old = %s", ev.State)
		}
		if got := ofKey(h.claim(at, 10), "unnamed"); len(got) != 0 {
			t.Fatalf("claimed %v behind a failed event no newer one stands for", ids(got))
		}
		ssotest.Equal(t, ids(ofKey(h.claim(h.Now.Add(time.Hour), 10), "unnamed")), []string{old.ID}, "claim at the retry")
	})
	t.Run("NewerSupersededToo", func(t *testing.T) {
		h := h.on(t)
		old, newer := h.inFlightStoodFor("newest")
		newest := event("newest")
		newest.Supersedes = []string{old.ID, newer.ID}
		ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newest)...), "Enqueue(newest)")
		ssotest.Equal(t, newest.Supersedes, []string{newer.ID}, "newest's Supersedes")
		err := h.S.MarkFailed(h.Ctx, old.ID, old.LeaseUntil, h.Now.Add(time.Hour), "500", false)
		ssotest.IsErr(t, err, store.ErrSuperseded, "MarkFailed(old)")
		ssotest.Equal(t, ids(ofKey(h.claim(at, 10), "newest")), []string{newest.ID}, "claim after the failure")
	})
}

// ofKey is the events of l of key.
func ofKey(l []*store.OutboxEvent, key string) []*store.OutboxEvent {
	var out []*store.OutboxEvent
	for _, e := range l {
		if e.Key == key {
			out = append(out, e)
		}
	}
	return out
}

// testOutboxTargetsSuperseded (brief s21 G2 item 2): OutboxTargets counts each target's
// superseded events (the metrics' series), those superseded at a newer event's write and those
// superseded at their failure alike; a target with superseded events only is listed.
func testOutboxTargetsSuperseded(t *testing.T, h *H) {
	failed := clientEvent("crm", "m1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, failed)...), "Enqueue(failed)")
	leased := h.claim(h.Now.Add(time.Second), 10)
	ssotest.Equal(t, ids(leased), []string{failed.ID}, "claim")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, failed.ID, leased[0].LeaseUntil, h.Now.Add(time.Hour), "500", false), "MarkFailed")
	newer := clientEvent("crm", "m1")
	newer.Supersedes = []string{failed.ID}
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	old, standsFor := h.inFlightStoodFor("portal/m2")
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, old.ID, old.LeaseUntil, h.Now.Add(time.Hour), "500", false), store.ErrSuperseded, "MarkFailed(in flight)")
	for _, e := range h.claimExactly(h.Now.Add(2*time.Second), "claim of the newer events", newer, standsFor) {
		ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, e.ID, e.LeaseUntil, h.Now), "MarkDelivered")
	}
	got, err := h.S.OutboxTargets(h.Ctx)
	ssotest.NoErr(t, err, "OutboxTargets")
	want := []store.OutboxTarget{{Channel: "webhook", ClientID: "crm", Superseded: 1}, {Channel: "webhook", ClientID: "portal", Superseded: 1}}
	if len(got) != len(want) {
		t.Fatalf("OutboxTargets = %+v, want %+v", got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Channel != w.Channel || g.ClientID != w.ClientID || g.Pending != 0 || g.Dead != 0 || g.Superseded != w.Superseded {
			t.Errorf("OutboxTargets[%d] = %+v, want %+v", i, g, w)
		}
	}
}
