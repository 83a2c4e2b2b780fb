package provisioning_test

import (
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
)

// Review s26 V-6: ErrEmptyListing ("an AMS that lists nobody at all is taken as a fault": a
// wrong database, a broken query) is checked only on a pass's first page (after == ""). A pass
// resumed from its cursor (after an AMS error, a restart, a lease moved to another replica:
// the cursor is in the store) that finds the AMS listing nobody takes it as the end of the
// listing and walks every subject after the cursor, each looked up in the same empty AMS,
// each "not found", each deactivated everywhere: sessions ended, refresh tokens revoked,
// back-channel logouts and user.deactivated sent to every app. The bridge pointed at the
// wrong (or an empty, restored) database during a pass, which a restart to change the
// connection string makes likely, deactivates every member after the cursor at once.
func TestV26ResumedPassOverAnEmptyAMSDeactivatesNobody(t *testing.T) {
	r := newReconcileFixture(t)
	r.list.failList = 2 // the first page (alice, bob) is handled, then the AMS fails
	if res, err := r.svc.Reconcile(t.Context()); !errors.Is(err, legacy.ErrUnavailable) || res.Finished {
		t.Fatalf("first pass = %+v, %v; want it stopped after its first page (set-up)", res, err)
	}
	st, err := r.st.ReconcileState(t.Context(), provisioning.ReconcileName)
	if err != nil || st.Cursor == "" {
		t.Fatalf("progress = %+v, %v; want a cursor after the first page (set-up)", st, err)
	}
	// The AMS comes back as an empty database: it lists nobody and knows nobody.
	r.list.empty = true
	for _, l := range []string{"alice", "bob", "carol", "dave", "locked"} {
		r.dir.Remove(l)
	}
	res, err := r.svc.Reconcile(t.Context())
	if res.Gone > 0 || !r.shadowUser(carolSub).Active {
		t.Fatalf("resumed pass over an AMS listing nobody = %+v, %v; carol active: %v; want a fault (ErrEmptyListing), nobody deactivated",
			res, err, r.shadowUser(carolSub).Active)
	}
}
