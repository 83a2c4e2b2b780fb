package sqldir_test

import (
	"testing"
	"time"
)

// Review s26 V-3 (the directory's half): ChangedSince reads each changed member with
// MemberByKey and fails the whole page on the first error. A key matching two rows (V-1's
// merge leftover) is a contract fault that no retry mends, so every poll fails at that page
// for as long as the rows stay: no change after it is polled (the poller keeps its
// watermark), and since 800bdac the poller logs it as an error every poll_interval. W-6 made
// the reconcile count such a member as failed and go on; ChangedSince (or the poller) needs
// the same: leave the member out (the reconcile counts it) or hand it back as failed.
func TestV26ChangedSinceGoesOnPastADuplicatedKey(t *testing.T) {
	d, db := openDemo(t)
	alice := login(t, "alice")
	const survivor = "ABCDEF00-0000-0000-0000-000000000001"
	for _, q := range []string{
		`INSERT INTO ContactMain (ContactKey, ContactStatusCode, FullName, SortName, SyncContactID, ID, MajorKey, UpdatedOn, CreatedOn)
			SELECT '` + survivor + `', ContactStatusCode, FullName, SortName, SyncContactID, ID, MajorKey, UpdatedOn, CreatedOn
			FROM ContactMain WHERE ContactKey = '` + alice.ContactKey + `'`,
		`INSERT INTO UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, MarkedForDeleteOn, ProviderKey)
			SELECT '` + survivor + `', ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, MarkedForDeleteOn, ProviderKey
			FROM UserMain WHERE UserKey = '` + alice.ContactKey + `'`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ms, _, err := d.ChangedSince(ctx, time.Now().AddDate(-10, 0, 0), 1000)
	if err != nil {
		t.Fatalf("ChangedSince: %v; want the other members' changes (alice's two rows are alice's fault)", err)
	}
	if len(ms) < 5 {
		t.Fatalf("ChangedSince listed %d members; want every demo member but alice", len(ms))
	}
}
