package provisioning_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestReconcileMaxGoneCountsPerPass (session 27): shadow.reconcile_max_gone bounds the members
// one pass deactivates as gone from the AMS, not one page. Here the listing (2 members a page:
// bob and locked, then dave and zed) puts alice (gone, with something to end) on the first page
// and carol and hal (gone, each with an active shadow user) on the second; bound 2. Each page
// alone is within the bound, so a per-page count deactivated all three. Per pass, the second
// page stops the pass before deactivating carol and hal, and the pass stops there again when
// resumed by another process (the count is kept with the pass's cursor); raised to 3, the pass
// goes on and deactivates them.
func TestReconcileMaxGoneCountsPerPass(t *testing.T) {
	r := newReconcileFixture(t)
	ctx := t.Context()
	const (
		halKey = "58888888-8888-8888-8888-888888888888"
		zedKey = "66666666-6666-6666-6666-666666666666"
		halSub = "sub-hal"
	)
	for _, m := range []*legacy.Member{{Key: halKey, Login: "hal"}, {Key: zedKey, Login: "zed"}} {
		m.FullName, m.Roles, m.Standing = m.Login, []string{"Member"}, legacy.Standing{Approved: true}
		m.MemberType, m.Status, m.PaidThrough = "REG", "A", time.Now().AddDate(1, 0, 0)
		r.dir.Add(m, m.Login+"-password")
	}
	if err := r.st.PutSubject(ctx, &store.Subject{Subject: halSub, MemberKey: halKey, Login: "hal"}); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Provision(ctx, "portal", halSub, nil); err != nil {
		t.Fatal(err)
	}
	if !r.shadowUser(halSub).Active {
		t.Fatal("hal not provisioned")
	}
	for _, l := range []string{"alice", "carol", "hal"} {
		r.dir.Remove(l)
	}
	r.opts.Config.ReconcileMaxGone = 2
	r.start()
	res, err := r.svc.Reconcile(ctx)
	if !errors.Is(err, provisioning.ErrTooManyGone) || res.Finished || res.Gone != 1 {
		t.Fatalf("pass, bound 2, 1 gone on page 1 and 2 on page 2 = %+v, %v; want ErrTooManyGone at page 2, 1 gone", res, err)
	}
	if !r.aliceEnded() {
		t.Fatal("alice (the first page, within the bound) not deactivated")
	}
	if !r.shadowUser(carolSub).Active || !r.shadowUser(halSub).Active {
		t.Fatal("carol or hal deactivated: the pass went past shadow.reconcile_max_gone over two pages")
	}
	r.start() // another process resumes the pass
	if res, err := r.svc.Reconcile(ctx); !errors.Is(err, provisioning.ErrTooManyGone) || !res.Resumed || !r.shadowUser(halSub).Active {
		t.Fatalf("resumed pass = %+v, %v (hal active %v); want the stop again, hal left", res, err, r.shadowUser(halSub).Active)
	}
	r.opts.Config.ReconcileMaxGone = 3
	r.start()
	if res, err := r.svc.Reconcile(ctx); err != nil || !res.Finished || res.Gone != 2 || r.shadowUser(halSub).Active || r.shadowUser(carolSub).Active {
		t.Fatalf("pass with the bound raised = %+v, %v; want finished, carol and hal deactivated", res, err)
	}
	st, err := r.st.ReconcileState(ctx, provisioning.ReconcileName)
	if err != nil || st.Gone != 0 || st.FinishedAt.IsZero() {
		t.Fatalf("state after the finished pass = %+v, %v; want the count reset", st, err)
	}
}
