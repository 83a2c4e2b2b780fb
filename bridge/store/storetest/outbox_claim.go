package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// The claim's order promises under load and with several clients: each key's events in order
// (none claimed while an earlier one of its key is leased or waits to retry; behind a dead one,
// yes), whatever other clients' events are due, and no event claimed twice at once.
var outboxClaimTests = []test{
	{"KeyOrderAmongClients", testOutboxKeyOrderAmongClients},
	{"ConcurrentClaimsKeepKeyOrder", func(t *testing.T, h *H) { OutboxClaimRace(t, h.Now, h.S, h.S, h.S, h.S) }},
	{"EventsDieWithClient", testOutboxEventsDieWithClient},
	{"IdleClientsFirst", testOutboxIdleClientsFirst},
	{"ClientRemovalCounted", testClientRemovalCounted},
}

// clientEvent returns a new pending event of client with key client/member.
func clientEvent(client, member string) *store.OutboxEvent {
	e := event(client + "/" + member)
	e.ClientID, e.Subject = client, member
	return e
}

// dueAt makes evs due at t (h.Now): the claims at h.Now and a second then do not depend on how
// long the test took to enqueue them. Left zero, an event falls due when the store's clock (the
// wall clock) enqueues it, and a claim at h.Now+1s missed the events enqueued more than a second
// into a loaded run (IdleClientsFirst failed so once in session 21).
func dueAt(t time.Time, evs ...*store.OutboxEvent) []*store.OutboxEvent {
	for _, e := range evs {
		e.NextAttempt = t
	}
	return evs
}

// claimExactly claims at at and fails unless the claim took exactly want (in any order), so a
// case goes on only with the events in flight that it names: a claim that took none (events not
// due yet, an enqueue that took seconds in a loaded run) left the outcomes that follow recorded
// against events never claimed (a zero lease matches one), and the case passed without
// exercising what it names. It returns the events as claimed.
func (h *H) claimExactly(at time.Time, what string, want ...*store.OutboxEvent) []*store.OutboxEvent {
	h.T.Helper()
	l := h.claim(at, len(want)+10)
	got, exp := ids(l), ids(want)
	slices.Sort(got)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		h.T.Fatalf("%s: claimed %v, want %v", what, ids(l), ids(want))
	}
	return l
}

// leases are the lease ends of claimed events by id.
func leases(claimed []*store.OutboxEvent) map[string]time.Time {
	out := make(map[string]time.Time, len(claimed))
	for _, e := range claimed {
		out[e.ID] = e.LeaseUntil
	}
	return out
}

func (h *H) claimOne(at time.Time, exclude ...string) *store.OutboxEvent {
	h.T.Helper()
	l, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 1, ExcludeClients: exclude})
	ssotest.NoErr(h.T, err, "ClaimEvents")
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	h.T.Fatalf("ClaimEvents(limit 1) = %v", ids(l))
	return nil
}

func idOf(e *store.OutboxEvent) string {
	if e == nil {
		return "none"
	}
	return e.ID
}

// testOutboxKeyOrderAmongClients: a client's later event of a key whose head is in flight, or
// waits to retry, stays behind it while other clients' events are claimed (and when only
// they are left); behind a dead head it goes on. Any reordering of the candidates (a
// preference for idle clients: review s15 X-5) must keep this.
func testOutboxKeyOrderAmongClients(t *testing.T, h *H) {
	a1, a2 := clientEvent("bank", "alice"), clientEvent("bank", "alice")
	s1, s2 := clientEvent("slow", "m1"), clientEvent("slow", "m2")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a1, s1, s2, a2)...), "Enqueue")
	at := h.Now.Add(time.Second)
	head := h.claimOne(at)
	ssotest.Equal(t, idOf(head), a1.ID, "first claim")
	// Then only a2 (behind its leased head) and slow's events are left: slow's, never a2.
	ssotest.Equal(t, idOf(h.claimOne(at)), s1.ID, "second claim")
	ssotest.Equal(t, idOf(h.claimOne(at)), s2.ID, "third claim: a2 waits behind its leased head")
	ssotest.Equal(t, idOf(h.claimOne(at)), "none", "a2 while its head is in flight")
	// The head fails and backs off (bank has nothing in flight now): a2 still waits.
	retry := at.Add(30 * time.Second) // within the other claims' leases
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, head.LeaseUntil, retry, "503", false), "MarkFailed")
	ssotest.Equal(t, idOf(h.claimOne(at.Add(time.Second))), "none", "a2 while its head waits to retry")
	ssotest.Equal(t, idOf(h.claimOne(at.Add(time.Second), "slow")), "none", "a2 while its head waits to retry (slow excluded)")
	head = h.claimOne(retry)
	ssotest.Equal(t, idOf(head), a1.ID, "the head, retried")
	ssotest.Equal(t, idOf(h.claimOne(retry)), "none", "a2 while its retried head is in flight")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, head.LeaseUntil, retry, "410", true), "MarkFailed(dead)")
	ssotest.Equal(t, idOf(h.claimOne(retry)), a2.ID, "a2 behind its dead head")
}

// OutboxClaimRace claims, delivers, fails and kills events of many keys and clients from
// several goroutines at once, each on the next of stores in turn (one store several times,
// or replicas on one database), and fails t if an event is claimed while another claim holds
// it, while an earlier event of its key is in flight or waits to retry, or ahead of an earlier
// event of its key that is neither delivered nor dead.
func OutboxClaimRace(t *testing.T, now time.Time, stores ...store.Store) {
	const (
		clients = 3
		keys    = 12 // per client
		perKey  = 4
		workers = 8
	)
	ctx := t.Context()
	order := map[string][]string{} // key -> its event ids, oldest first
	var all []*store.OutboxEvent
	for k := range keys { // a key's events next to each other: the next is the oldest but one
		for c := range clients {
			for range perKey {
				e := clientEvent(fmt.Sprint("c", c), fmt.Sprint("m", k))
				all = append(all, e)
				order[e.Key] = append(order[e.Key], e.ID)
			}
		}
	}
	ssotest.NoErr(t, stores[0].Enqueue(ctx, all...), "Enqueue")
	var (
		mu    sync.Mutex
		held  = map[string]string{} // key -> the event id a claim holds
		next  = map[string]int{}    // key -> index in order of the event to claim next
		ended atomic.Int64          // delivered or dead
		tick  atomic.Int64          // each call's clock: every claim later than the one before
	)
	clock := func() time.Time { return now.Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	errs := ssotest.Parallel(workers, func(w int) error {
		st := stores[w%len(stores)]
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		for idle := 0; ended.Load() < int64(len(all)); {
			l, err := st.ClaimEvents(ctx, store.Claim{Now: clock(), Lease: time.Hour, Limit: 1 + rng.IntN(2)})
			if err != nil {
				return err
			}
			if len(l) == 0 {
				if idle++; idle > 20000 {
					return errors.New("no claim for too long")
				}
				time.Sleep(100 * time.Microsecond)
				continue
			}
			idle = 0
			mu.Lock()
			for _, e := range l {
				if h := held[e.Key]; h != "" {
					mu.Unlock()
					return fmt.Errorf("claimed %s of key %s while %s of the key was held", e.ID, e.Key, h)
				}
				if want := order[e.Key][next[e.Key]]; e.ID != want {
					mu.Unlock()
					return fmt.Errorf("claimed %s of key %s, want %s, the oldest neither delivered nor dead", e.ID, e.Key, want)
				}
				held[e.Key] = e.ID
			}
			mu.Unlock()
			for _, e := range l {
				outcome := rng.IntN(10) // 0-5 delivered, 6-8 retry, 9 dead
				if e.Attempts >= 3 && outcome >= 6 && outcome <= 8 {
					outcome = 0
				}
				// Released before the outcome is recorded: the store holds the key until then,
				// so a claim of the key's next event before the record would be caught.
				mu.Lock()
				held[e.Key] = ""
				if outcome < 6 || outcome == 9 {
					next[e.Key]++
				}
				mu.Unlock()
				switch {
				case outcome < 6:
					err = st.MarkDelivered(ctx, e.ID, e.LeaseUntil, clock())
				default:
					// Retried some claims later: meanwhile the key's next event must wait.
					err = st.MarkFailed(ctx, e.ID, e.LeaseUntil, clock().Add(20*time.Millisecond), "503", outcome == 9)
				}
				if err != nil {
					return fmt.Errorf("outcome of %s: %w", e.ID, err)
				}
				if outcome < 6 || outcome == 9 {
					ended.Add(1)
				}
			}
		}
		return nil
	})
	ssotest.NoErr(t, errors.Join(errs...), "concurrent claims")
	counts, err := stores[0].OutboxCounts(context.WithoutCancel(ctx))
	ssotest.NoErr(t, err, "OutboxCounts")
	if counts[store.OutboxPending] != 0 || counts[store.OutboxDelivered]+counts[store.OutboxDead] != len(all) {
		t.Fatalf("counts after the race: %v, want %d delivered or dead", counts, len(all))
	}
}

// testOutboxIdleClientsFirst (review s15 X-5): a claim takes the head of a client with nothing
// in flight before a busy client's next event, whatever their queue order: two slow apps whose
// events come first hold one claim each, and another app's event behind them (a back-channel
// logout) is claimed third, not after all of theirs; among busy clients, queue order. A claim of
// several events spreads them the same way. Key order holds (KeyOrderAmongClients).
func testOutboxIdleClientsFirst(t *testing.T, h *H) {
	a1, a2, a3 := clientEvent("slowa", "m1"), clientEvent("slowa", "m2"), clientEvent("slowa", "m3")
	b1, b2 := clientEvent("slowb", "m1"), clientEvent("slowb", "m2")
	logout := clientEvent("bank", "alice")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a1, a2, a3, b1, b2, logout)...), "Enqueue")
	at := h.Now.Add(time.Second)
	for i, want := range []*store.OutboxEvent{a1, b1, logout, a2, a3, b2} {
		ssotest.Equal(t, idOf(h.claimOne(at)), want.ID, "claim %d", i+1)
	}
	ssotest.Equal(t, idOf(h.claimOne(at)), "none", "after every event")

	c1, c2, d1, e1 := clientEvent("c", "m1"), clientEvent("c", "m2"), clientEvent("d", "m1"), clientEvent("e", "m1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, c1, c2, d1, e1)...), "Enqueue")
	ssotest.Equal(t, ids(h.claim(at, 3)), []string{c1.ID, d1.ID, e1.ID}, "a claim of three: one of each idle client")
	ssotest.Equal(t, ids(h.claim(at, 3)), []string{c2.ID}, "then the rest")
}
