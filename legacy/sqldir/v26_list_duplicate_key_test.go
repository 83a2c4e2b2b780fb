package sqldir_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
)

// Review s26 V-1: 800bdac (W-6) lets the reconcile pass count a member whose key matches two
// rows as failed and go on, but only when the listing skips that member (the W-6 test's double
// deletes it from the listing). The real list_members does not: with member_key provider_key
// (the default), two UserMain rows with one ProviderKey (iMIS's asi_MergeUserLogin makes a new
// UserMain row under the surviving contact with the old UserId and ProviderKey, then deletes
// the old one; a failed or half-seen merge, read WITH (NOLOCK), leaves both) are listed as two
// members with the same key, one after the other. reconcilePage refuses a listing whose keys do
// not strictly ascend ("not in ascending key order") and stops the pass there, to resume there
// every poll_interval, for good: the W-6 fault again, through the listing. ListMembers's contract
// (legacy.MemberLister, directorytest) is strictly ascending keys; a key matching several rows
// must be listed at most once (or left out, for member_by_key's contract fault to count it).
func TestV26ListMembersListsADuplicatedKeyOnce(t *testing.T) {
	d, db := openDemo(t)
	alice := login(t, "alice")
	// The merge's second UserMain row: another contact key, alice's login and ProviderKey.
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
	// Set-up check: member_by_key sees the two rows (the W-6 contract fault).
	if _, err := d.MemberByKey(ctx, alice.Key); !errors.Is(err, legacy.ErrContract) {
		t.Fatalf("MemberByKey(alice) = %v; want the contract fault of two rows (set-up)", err)
	}
	var keys []string
	for after := ""; ; {
		page, err := d.ListMembers(ctx, after, 3)
		if err != nil {
			t.Fatalf("ListMembers after %q: %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			keys = append(keys, m.Key)
		}
		after = page[len(page)-1].Key
	}
	for i := 1; i < len(keys); i++ {
		if strings.Compare(keys[i], keys[i-1]) <= 0 {
			t.Fatalf("ListMembers listed %s after %s (keys %v): not strictly ascending; the reconcile pass stops there for good", keys[i], keys[i-1], keys)
		}
	}
}
