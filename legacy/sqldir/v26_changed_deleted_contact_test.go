package sqldir_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/demo"
)

// Review s26 V-5: deleting a contact in iMIS (asi_Name_Delete, imis-schema.md §6) disables the
// user and blanks UserMain.UserId and ContactMaster, and bumps ContactMain.UpdatedOn: the one
// trace a deletion leaves, and the change poll sees it. ChangedSince then reads the member by
// key, gets ErrNotFound (the blanked UserId no longer matches the login) and leaves the member out
// without a word ("the reconcile notices them"). So the deletion waits for the next reconcile
// pass (up to reconcile_interval plus a pass) and is never acted on with reconcile_interval: 0,
// which config allows and the README only calls "off": the deleted member keeps their sessions,
// refresh tokens and active shadow users. The poll could act at once: hand the key back as gone
// (here: a member with Standing.Deleted, whose sync deactivates everywhere), to be confirmed as
// reconcileUnlisted does.
func TestV26ChangedSinceReportsADeletedContact(t *testing.T) {
	d, db := openDemo(t)
	alice := login(t, "alice")
	since := time.Now().Add(-time.Minute)
	app := time.Now().UTC().Add(demo.AppTimeOffset).Format("2006-01-02 15:04:05.000")
	for _, q := range []string{ // what asi_Name_Delete does (CreateTriggers.sql:877-925), then the Name row goes
		`UPDATE UserMain SET IsDisabled = 1, ContactMaster = '', UserId = '' WHERE UserKey = '` + alice.ContactKey + `'`,
		`UPDATE ContactMain SET SyncContactID = NULL, UpdatedOn = '` + app + `' WHERE ContactKey = '` + alice.ContactKey + `'`,
		`DELETE FROM Name WHERE ID = '` + alice.MemberID + `'`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ms, next, err := d.ChangedSince(ctx, since, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !next.After(since) {
		t.Fatalf("watermark %s not moved: the poll did not see the deletion's change at all (set-up)", next)
	}
	for _, m := range ms {
		if m.Key == alice.Key {
			if !m.Standing.Deleted {
				t.Fatalf("alice after her deletion: %+v; want her standing deleted", m.Standing)
			}
			return
		}
	}
	t.Fatalf("ChangedSince saw the deletion (watermark moved to %s) but left alice out of %d members: nothing acts on it before the next reconcile pass, never with reconcile_interval: 0", next.Format(time.RFC3339), len(ms))
}
