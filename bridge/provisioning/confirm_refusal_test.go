package provisioning_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
)

// flicker is the AMS read during a save of alice's contact: the next reads of her rows (by the
// change scan's member read, the reconcile listing or a look-up by key) answer her as a
// read-uncommitted query could see her mid-save, deleted (her Name row not seen) or lapsed
// (spoil), and the reads after that her committed row. down makes the look-ups by key fail as
// unavailable.
type flicker struct {
	*listing
	mu    sync.Mutex
	dirty int                  // this many reads of alice answer her deleted (or spoiled)
	spoil func(*legacy.Member) // how; nil: deleted
	down  bool                 // MemberByKey fails as unavailable
	reads []string
	byKey map[string]int // look-ups by key, per key
}

func (f *flicker) read(how string, m *legacy.Member) *legacy.Member {
	if m == nil || m.Key != aliceKey {
		return m
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dirty > 0 {
		f.dirty--
		how += " (dirty)"
		if f.spoil == nil {
			m.Standing.Deleted = true
		} else {
			f.spoil(m)
		}
	}
	f.reads = append(f.reads, how)
	return m
}

func (f *flicker) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := f.listing.ChangedSince(ctx, since, limit)
	for _, m := range ms {
		f.read("changed", m)
	}
	return ms, next, err
}

func (f *flicker) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := f.listing.ListMembers(ctx, afterKey, limit)
	for _, m := range ms {
		f.read("listed", m)
	}
	return ms, err
}

func (f *flicker) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down && key == aliceKey {
		f.mu.Lock()
		f.reads = append(f.reads, "by key (unavailable)")
		f.mu.Unlock()
		return nil, legacy.Unavailable("lookup", errors.New("connection reset by peer"))
	}
	f.mu.Lock()
	if f.byKey == nil {
		f.byKey = map[string]int{}
	}
	f.byKey[key]++
	f.mu.Unlock()
	m, err := f.listing.MemberByKey(ctx, key)
	return f.read("by key", m), err
}

func (f *flicker) readsOfAlice() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reads)
}

// TestRefusalConfirmedBeforeDeactivation (session 26, review s25 Y-7): the change poller and the
// reconcile deactivated a member everywhere (session ended, every refresh token revoked, shadow
// user inactive) on the strength of one read, which a read-uncommitted query of a contact being
// saved can get wrong; the ended session and the revoked tokens do not come back when the next
// read is right. Now a member who has something to lose is read again from the AMS itself,
// past the profile cache that the change scan and the listing have just filled with the first
// read, and deactivated only when that read agrees. The directory here is the bridge's: the
// cache (legacy/cache) in front of the AMS.
func TestRefusalConfirmedBeforeDeactivation(t *testing.T) {
	cases := []struct {
		name      string
		reconcile bool // a reconcile pass, else a change poll
		dirty     int  // reads of alice that answer her deleted
		down      bool // the second read fails
		// lapse: the dirty reads lapse her membership (paid through last month) at the portal,
		// which requires a current one, instead of deleting her.
		lapse bool
		// ended: alice's session and tokens are ended and her shadow user inactive (with lapse:
		// her portal token revoked and her portal shadow user inactive).
		ended bool
		// reads: the reads of alice's rows, in order.
		reads []string
	}{
		{name: "poll: deleted once, then the real row", dirty: 1,
			reads: []string{"changed (dirty)", "by key"}},
		{name: "poll: deleted on both reads", dirty: 2, ended: true,
			reads: []string{"changed (dirty)", "by key (dirty)"}},
		{name: "poll: the second read fails", dirty: 1, down: true,
			reads: []string{"changed (dirty)", "by key (unavailable)"}},
		{name: "reconcile: deleted once, then the real row", reconcile: true, dirty: 1,
			reads: []string{"listed (dirty)", "by key"}},
		{name: "reconcile: deleted on both reads", reconcile: true, dirty: 2, ended: true,
			reads: []string{"listed (dirty)", "by key (dirty)"}},
		{name: "poll: lapsed at a require_current app once", lapse: true, dirty: 1,
			reads: []string{"changed (dirty)", "by key"}},
		{name: "poll: lapsed at a require_current app on both reads", lapse: true, dirty: 2, ended: true,
			reads: []string{"changed (dirty)", "by key (dirty)"}},
		{name: "reconcile: lapsed at a require_current app once", reconcile: true, lapse: true, dirty: 1,
			reads: []string{"listed (dirty)", "by key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReconcileFixture(t)
			ams := &flicker{listing: r.list}
			if tc.lapse {
				ams.spoil = func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -1, 0) }
				portal := r.opts.Targets["portal"]
				portal.RequireCurrent = true
				r.opts.Targets = map[string]provisioning.Target{"portal": portal}
			}
			r.opts.Directory = cache.New(ams, cache.Options{TTL: time.Hour})
			r.start()
			ctx := t.Context()
			// Alice's contact was read (and cached) before the save began.
			if _, err := r.opts.Directory.MemberByKey(ctx, aliceKey); err != nil {
				t.Fatal(err)
			}
			r.dir.Touch("alice", time.Now())
			ams.mu.Lock()
			ams.dirty, ams.down, ams.reads = tc.dirty, tc.down, nil
			ams.mu.Unlock()

			var err error
			if tc.reconcile {
				var res provisioning.ReconcileResult
				res, err = r.svc.Reconcile(ctx)
				if err == nil && !tc.ended && res.Unconfirmed != 1 {
					t.Errorf("pass = %+v; want alice counted unconfirmed", res)
				}
			} else {
				_, err = r.svc.Poll(ctx)
				if !tc.ended && !errors.Is(err, provisioning.ErrRefusalUnconfirmed) {
					t.Errorf("Poll: %v; want ErrRefusalUnconfirmed", err)
				}
				if tc.down && !errors.Is(err, legacy.ErrUnavailable) {
					t.Errorf("Poll: %v; want the second read's unavailability too", err)
				}
			}
			if tc.ended && err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := ams.readsOfAlice(); !slices.Equal(got, tc.reads) {
				t.Errorf("reads of alice = %q; want %q", got, tc.reads)
			}
			if tc.lapse {
				portalToken, err := r.st.Family(ctx, r.rts[0].FamilyID)
				if err != nil {
					t.Fatal(err)
				}
				if portalToken.Revoked != tc.ended {
					t.Fatalf("alice's portal token revoked = %v; want %v", portalToken.Revoked, tc.ended)
				}
			} else if got := r.aliceEnded(); got != tc.ended {
				t.Fatalf("alice's session and tokens ended = %v; want %v", got, tc.ended)
			}
			if got := r.shadowUser(aliceSub).Active; got == tc.ended {
				t.Fatalf("alice's shadow user active = %v; want %v", got, !tc.ended)
			}
			if tc.reconcile || tc.ended {
				return
			}
			// The poll is retried: the watermark stayed before alice's change, and the next
			// poll reads her committed row and leaves her signed in.
			ams.mu.Lock()
			ams.down = false
			ams.mu.Unlock()
			if _, err := r.svc.Poll(ctx); err != nil {
				t.Fatalf("next Poll: %v", err)
			}
			if got := ams.readsOfAlice(); len(got) <= len(tc.reads) || got[len(tc.reads)] != "changed" {
				t.Errorf("reads of alice after the next poll = %q; want her read again by the change scan", got)
			}
			if r.aliceEnded() || !r.shadowUser(aliceSub).Active {
				t.Fatal("alice signed out by the next poll")
			}
		})
	}
}

// TestRefusalNothingToLoseNotReadAgain: a refused member who holds nothing the deactivation
// would end (no active shadow user, no live session or refresh token: refused at the last sync
// already) is not read a second time, although every reconcile pass lists them; one who still
// holds something is, once.
func TestRefusalNothingToLoseNotReadAgain(t *testing.T) {
	r := newReconcileFixture(t)
	ams := &flicker{listing: r.list}
	r.opts.Directory = ams
	r.start()
	ctx := t.Context()
	r.dir.Update("carol", func(m *legacy.Member) { m.Standing.Disabled = true })
	for pass := 1; pass <= 3; pass++ {
		res, err := r.svc.Reconcile(ctx)
		if err != nil || res.Unconfirmed != 0 {
			t.Fatalf("pass %d = %+v, %v", pass, res, err)
		}
		if r.shadowUser(carolSub).Active {
			t.Fatalf("pass %d: carol still active", pass)
		}
		ams.mu.Lock()
		reads, aliceReads := ams.byKey[carolKey], ams.byKey[aliceKey]
		ams.mu.Unlock()
		if reads != 1 || aliceReads != 0 {
			t.Fatalf("after pass %d: carol read by key %d times, alice %d; want 1 (the first pass's confirmation), 0", pass, reads, aliceReads)
		}
	}
}

// TestUnlistedLookedUpPastTheCache (session 26): a member the listing skipped is looked up in
// the AMS itself. Through the profile cache, which still held carol from an earlier look-up,
// a contact deleted since was "found" and kept signed in until the cache entry expired.
func TestUnlistedLookedUpPastTheCache(t *testing.T) {
	r := newReconcileFixture(t)
	r.opts.Directory = cache.New(r.list, cache.Options{TTL: time.Hour})
	r.start()
	ctx := t.Context()
	if _, err := r.opts.Directory.MemberByKey(ctx, carolKey); err != nil {
		t.Fatal(err)
	}
	r.dir.Remove("carol")
	res, err := r.svc.Reconcile(ctx)
	if err != nil || res.Gone != 1 {
		t.Fatalf("pass = %+v, %v; want carol gone", res, err)
	}
	if r.shadowUser(carolSub).Active {
		t.Fatal("carol, deleted in the AMS, still active at the portal")
	}
}
