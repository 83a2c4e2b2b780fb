package provisioning_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// lockedRows is an AMS where an AMS transaction holds alice's rows: the change scan (WITH
// (NOLOCK)) reads her uncommitted, refused state, and the confirming read (committed data,
// SET LOCK_TIMEOUT on SQL Server since session 27 L) fails as sqldir reports SQL Server's
// error 1222: legacy.ErrUnavailable around legacy.ErrLocked and the driver's error. Every other read answers.
type lockedRows struct {
	*listing
}

func (d *lockedRows) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := d.listing.ChangedSince(ctx, since, limit)
	for _, m := range ms {
		if m.Key == aliceKey {
			m.Standing.Deleted = true // the save in flight, read dirty
		}
	}
	return ms, next, err
}

func (d *lockedRows) FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	if key == aliceKey {
		return nil, legacy.Unavailable("member_by_key_committed", fmt.Errorf("%w: mssql: Lock request time out period exceeded.", legacy.ErrLocked))
	}
	return d.listing.MemberByKey(ctx, key)
}

// TestR5LockedMemberDoesNotStopThePoll (review s27 R5-1, seam of F's Poll and L's lock
// timeout): one member whose rows an AMS transaction holds (the confirming read ends in error
// 1222, which sqldir reports as legacy.ErrUnavailable like every driver error) is that member's
// refusal left unconfirmed, as L's commit and CHANGELOG say ("unconfirmed, synced again
// later"). It must not hold back the other members' changes: the AMS answered the change scan
// and every other read. On main 0e4e18e + L the poll treats the member's ErrUnavailable as
// "what every member needs is away" (transient) and stops at alice: carol's later change is not
// synced, at this poll nor at any poll while the lock lasts (the watermark stays before alice).
func TestR5LockedMemberDoesNotStopThePoll(t *testing.T) {
	r := newReconcileFixture(t)
	ctx := t.Context()
	start := time.Now()
	if err := r.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.opts.Directory = &lockedRows{listing: r.list}
	r.start()
	r.dir.Touch("alice", start.Add(-10*time.Minute))
	r.dir.Update("carol", func(m *legacy.Member) { m.FullName = "Carol Renamed" })
	r.dir.Touch("carol", start.Add(-5*time.Minute))

	for poll := 1; poll <= 2; poll++ {
		_, err := r.svc.Poll(ctx)
		if err == nil {
			t.Fatalf("poll %d: no error; want alice's refusal unconfirmed", poll)
		}
		if r.aliceEnded() {
			t.Fatalf("poll %d: alice ended on a read whose confirmation failed", poll)
		}
		var u wire.User
		if err := json.Unmarshal(r.shadowUser(carolSub).View, &u); err != nil {
			t.Fatal(err)
		}
		if u.Name != "Carol Renamed" {
			t.Fatalf("poll %d (%v): carol at the portal is %q; want her change synced although alice's rows are locked", poll, err, u.Name)
		}
	}
}

// lockedListing is lockedRows for the reconcile: the listing, read with NOLOCK, shows alice's
// save in flight (deleted) too.
type lockedListing struct{ lockedRows }

func (d *lockedListing) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := d.listing.ListMembers(ctx, afterKey, limit)
	for _, m := range ms {
		if m.Key == aliceKey {
			m.Standing.Deleted = true
		}
	}
	return ms, err
}

// TestR5LockedMemberDoesNotStopTheReconcile (review s27 R5-1, the reconcile's side): the
// pass counts alice unconfirmed (legacy.ErrLocked inside the confirming read's error), ends
// nothing of hers and goes on to carol, instead of stopping as for the AMS away.
func TestR5LockedMemberDoesNotStopTheReconcile(t *testing.T) {
	r := newReconcileFixture(t)
	ctx := t.Context()
	r.opts.Directory = &lockedListing{lockedRows{listing: r.list}}
	r.start()
	r.dir.Update("carol", func(m *legacy.Member) { m.FullName = "Carol Renamed" })
	res, err := r.svc.Reconcile(ctx)
	if err != nil || !res.Finished || res.Unconfirmed != 1 {
		t.Fatalf("reconcile = %+v, %v; want a finished pass with alice unconfirmed", res, err)
	}
	if r.aliceEnded() {
		t.Fatal("alice ended on a read whose confirmation waited in vain for her rows")
	}
	var u wire.User
	if err := json.Unmarshal(r.shadowUser(carolSub).View, &u); err != nil {
		t.Fatal(err)
	}
	if u.Name != "Carol Renamed" {
		t.Fatalf("carol at the portal is %q; want her change synced", u.Name)
	}
}
