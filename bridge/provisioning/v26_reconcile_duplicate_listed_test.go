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
)

// listedTwice is what sqldir's list_members answers when one key matches two UserMain rows
// (V-1's sqldir test: a merge's leftover, member_key provider_key): the member twice, one after
// the other; member_by_key answers the contract fault (de39c13).
type listedTwice struct {
	*listing
	key string
}

func (l *listedTwice) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := l.listing.ListMembers(ctx, afterKey, limit)
	if i := slices.IndexFunc(ms, func(m *legacy.Member) bool { return m.Key == l.key }); i >= 0 {
		dup := *ms[i]
		ms = slices.Insert(ms, i+1, &dup)
	}
	return ms, err
}

func (l *listedTwice) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	if key == l.key {
		return nil, legacy.Unavailable(sqldir.QueryMemberByKey, fmt.Errorf("%w: key %q matches 2 rows", sqldir.ErrContract, key))
	}
	return l.listing.MemberByKey(ctx, key)
}

// Review s26 V-1, end to end: the same pass as W's TestW25ReconcileGoesOnPastAnAmbiguousKey,
// with the listing the real directory gives (alice listed twice) instead of one that skips
// her. The pass stops at alice's page ("not in ascending key order"), every time, and carol,
// who left the association, is never deactivated.
func TestV26ReconcileGoesOnPastAKeyListedTwice(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	r := &reconcileFixture{fixture: f, list: &listing{Directory: f.dir}, initial: map[string]bool{}}
	f.dir.Add(&legacy.Member{Key: carolKey, MemberID: "1004", Login: "carol", Email: "carol@example.org", FullName: "Carol Chen",
		MemberType: "REG", Status: "A", PaidThrough: time.Now().AddDate(1, 0, 0), Roles: []string{"Member"},
		Standing: legacy.Standing{Approved: true}}, "carol-password")
	ctx := t.Context()
	if err := f.st.PutSubject(ctx, &store.Subject{Subject: carolSub, MemberKey: carolKey, Login: "carol"}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{aliceSub, carolSub} {
		if err := f.svc.Provision(ctx, "portal", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.opts.Directory = &listedTwice{listing: r.list, key: aliceKey}
	f.opts.Config.ReconcileBatch, f.opts.Config.ReconcileRate = 2, 100000
	f.start()
	r.dir.Remove("carol")

	for pass := 1; pass <= 2; pass++ { // the second resumes where the first stopped
		res, err := f.svc.Reconcile(ctx)
		if err == nil && res.Finished {
			break
		}
		if pass == 2 {
			t.Fatalf("pass = %+v, %v; want a finished pass: alice's two rows are her failure, not the end of every pass", res, err)
		}
	}
	su, err := f.st.ShadowUser(ctx, "portal", carolSub)
	if err != nil {
		t.Fatal(err)
	}
	if su.Active {
		t.Fatal("carol, gone from the AMS, is still active at the portal")
	}
}
