package provisioning_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// reportsGone is a change scan that also reports keys the AMS no longer knows as members, as
// sqldir's ChangedSince does for a deleted contact (legacy.ChangeLister: Deleted, key only).
type reportsGone struct {
	legacy.Directory
	keys []string
	at   time.Time
}

func (r *reportsGone) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := r.Directory.ChangedSince(ctx, since, limit)
	if err != nil || !r.at.After(since) {
		return ms, next, err
	}
	for _, k := range r.keys {
		ms = append(ms, &legacy.Member{Key: k, UpdatedAt: r.at, Roles: []string{}, Standing: legacy.Standing{Deleted: true}})
	}
	if r.at.After(next) {
		next = r.at
	}
	return ms, next, nil
}

// TestPollActsOnAReportedDeletion (review s26 V-5): a key the change scan reports gone (iMIS's
// contact delete bumps ContactMain.UpdatedOn and blanks the login) is confirmed by key and,
// when the AMS does not know it, deactivated by the poll itself (sessions ended, shadow user
// inactive), not left to the next reconcile pass (never, with reconcile_interval: 0). A key
// found after all is synced, not deactivated; more gone at once than shadow.reconcile_max_gone
// deactivates nobody.
func TestPollActsOnAReportedDeletion(t *testing.T) {
	const bobKey = "22222222-2222-2222-2222-222222222222"
	for _, tc := range []struct {
		name       string
		removed    []string // logins deleted from the AMS
		reported   []string // keys the scan reports gone
		maxGone    int
		wantGone   bool // alice deactivated
		wantErrMax bool
	}{
		{name: "deleted contact", removed: []string{"alice"}, reported: []string{aliceKey}, maxGone: 100, wantGone: true},
		{name: "found after all", reported: []string{aliceKey}, maxGone: 100},
		{name: "more than reconcile_max_gone", removed: []string{"alice", "bob"}, reported: []string{aliceKey, bobKey}, maxGone: 1, wantErrMax: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
				clients{"portal": {ID: "portal"}})
			ctx := t.Context()
			if err := f.st.PutSubject(ctx, &store.Subject{Subject: "sub-bob", MemberKey: bobKey, Login: "bob"}); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
				t.Fatal(err)
			}
			h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
			sess := h.CreateSession(aliceSub, "portal")
			h.CreateSession("sub-bob", "portal") // something to end: only such gone members count (review s27 R5-2)
			now := time.Now()
			if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			for _, l := range tc.removed {
				f.dir.Remove(l)
			}
			f.opts.Directory = &reportsGone{Directory: f.dir, keys: tc.reported, at: now.Add(-10 * time.Minute)}
			f.opts.Config.ReconcileMaxGone = tc.maxGone
			f.start()
			_, err := f.svc.Poll(ctx)
			if tc.wantErrMax != errors.Is(err, provisioning.ErrTooManyGone) || (!tc.wantErrMax && err != nil) {
				t.Fatalf("poll: %v; want ErrTooManyGone: %v", err, tc.wantErrMax)
			}
			_, serr := f.st.Session(ctx, sess.ID)
			su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
			if err != nil {
				t.Fatal(err)
			}
			if ended := errors.Is(serr, sso.ErrNotFound); ended != tc.wantGone || su.Active == tc.wantGone {
				t.Fatalf("alice: session ended %v, active at the portal %v; want deactivated: %v", ended, su.Active, tc.wantGone)
			}
		})
	}
}
