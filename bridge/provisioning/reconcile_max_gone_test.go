package provisioning_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
)

// TestReconcileStopsAtTooManyGone (review s26 V-6): a pass whose page finds more members gone
// from the AMS than shadow.reconcile_max_gone (here an AMS that lists only dave and locked: a
// wrong or partly restored database) deactivates none of them and stops with an error naming
// the setting, again at each resume; with the bound raised (the deletions confirmed) it goes on.
// Only the gone members with something to end count (session 27): alice (a session, grants,
// a shadow user) and carol (an active shadow user), not bob (a subject and nothing else).
func TestReconcileStopsAtTooManyGone(t *testing.T) {
	r := newReconcileFixture(t)
	for _, l := range []string{"alice", "bob", "carol"} {
		r.dir.Remove(l)
	}
	r.opts.Config.ReconcileMaxGone = 1
	r.start()
	for range 2 { // the resume stops there again
		res, err := r.svc.Reconcile(t.Context())
		if !errors.Is(err, provisioning.ErrTooManyGone) || !strings.Contains(err.Error(), "shadow.reconcile_max_gone") || res.Gone != 0 || res.Finished {
			t.Fatalf("pass over an AMS missing 3 known members (2 with something to end), bound 1 = %+v, %v; want ErrTooManyGone naming the setting, nobody gone", res, err)
		}
		if r.aliceEnded() || !r.shadowUser(carolSub).Active {
			t.Fatal("a member was deactivated by a pass that stopped at the bound")
		}
		if got := r.queued(); len(got) != 0 {
			t.Fatalf("queued %v; want nothing", got)
		}
	}
	r.opts.Config.ReconcileMaxGone = 2
	r.start()
	res, err := r.svc.Reconcile(t.Context())
	if err != nil || !res.Finished || res.Gone != 3 {
		t.Fatalf("pass with the bound raised = %+v, %v; want finished, 3 gone", res, err)
	}
	if !r.aliceEnded() || r.shadowUser(carolSub).Active {
		t.Fatal("alice and carol, gone from the AMS, not deactivated once the bound was raised")
	}
}
