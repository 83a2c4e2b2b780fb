package provisioning_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// ambiguousKey is the reconcile listing with one member whose key matches two rows in the AMS
// (a broken join, two aspnet_Users rows mapped to one UserMain after a contact merge): the
// listing skips it (as sqldir skips a deleted contact or a refused login), and member_by_key
// answers what sqldir answers since de39c13: legacy.Unavailable wrapping sqldir.ErrContract.
type ambiguousKey struct {
	*listing
	key string
}

func (a *ambiguousKey) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := a.listing.ListMembers(ctx, afterKey, limit)
	return slices.DeleteFunc(ms, func(m *legacy.Member) bool { return m.Key == a.key }), err
}

func (a *ambiguousKey) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	if key == a.key {
		return nil, legacy.Unavailable(sqldir.QueryMemberByKey, fmt.Errorf("%w: key %q matches 2 rows", sqldir.ErrContract, key))
	}
	return a.listing.MemberByKey(ctx, key)
}

// Review s25 W-6: de39c13 made a key that matches two rows legacy.ErrUnavailable (a contract
// fault). The reconcile pass takes any ErrUnavailable as the AMS away and stops where it is,
// to resume there every poll_interval: one member's broken rows, which no retry mends, stop
// every pass at that member for good, and the members after it are never reconciled (one
// who left the association keeps their downstream accounts and their sessions). A contract
// fault of one member is that member's failure (res.Failed, as TestReconcileMemberFailure),
// and the pass goes on.
func TestW25ReconcileGoesOnPastAnAmbiguousKey(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal", BackchannelLogoutURI: "https://portal.example.org/bcl"}, "events": {ID: "events"}})
	r := &reconcileFixture{fixture: f, list: &listing{Directory: f.dir}, initial: map[string]bool{}}
	f.dir.Add(&legacy.Member{Key: carolKey, MemberID: "1004", Login: "carol", Email: "carol@example.org", FullName: "Carol Chen",
		MemberType: "REG", Status: "A", PaidThrough: time.Now().AddDate(1, 0, 0), Roles: []string{"Member", "Board"},
		Standing: legacy.Standing{Approved: true}}, "carol-password")
	// alice's key (the first in key order) matches two rows.
	f.opts.Directory = &ambiguousKey{listing: r.list, key: "11111111-1111-1111-1111-111111111111"}
	f.opts.Config.ReconcileBatch, f.opts.Config.ReconcileRate = 2, 100000
	f.start()
	ctx := t.Context()
	if err := f.st.PutSubject(ctx, &store.Subject{Subject: carolSub, MemberKey: carolKey, Login: "carol"}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{aliceSub, carolSub} {
		if err := f.svc.Provision(ctx, "portal", sub, nil); err != nil && sub == carolSub {
			t.Fatal(err)
		}
	}
	h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
	r.sess = h.CreateSession(aliceSub, "portal", "events")
	for _, e := range r.events() {
		r.initial[e.ID] = true
	}
	// carol, after alice in key order, has left the association.
	r.dir.Remove("carol")

	res, err := r.svc.Reconcile(ctx)
	if err != nil || !res.Finished {
		t.Fatalf("pass = %+v, %v; want a finished pass (alice's contract fault is alice's failure, not the AMS away)", res, err)
	}
	if res.Failed != 1 || res.Gone != 1 {
		t.Fatalf("pass = %+v; want alice failed and carol gone", res)
	}
	if got := r.queued(); !slices.Contains(got, "user.deactivated portal "+carolSub) {
		t.Fatalf("queued %v; want carol deactivated at the portal", got)
	}
	if r.aliceEnded() {
		t.Fatal("alice's session ended over a contract fault")
	}
}
