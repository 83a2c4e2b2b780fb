package imis

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestIMISMemberReadsCommitted (session 26, reviews s25 Y-7 and s26 R3-4) pins the isolation
// split of the SQL Server preset, in both member key modes. The sign-in and look-up reads
// (login, key, member id, e-mail, roles, the listing, the change scan) read every table WITH
// (NOLOCK), so an iMIS batch holding write locks does not stop sign-ins; the reads that confirm
// a deactivation (member_by_key_committed, roles_by_key_committed) read the member's tables
// with no hint (committed data), and only SystemConfig keeps NOLOCK there.
func TestIMISMemberReadsCommitted(t *testing.T) {
	tests := []struct {
		query     string
		committed bool // no hint on the member's tables; NOLOCK on SystemConfig only
	}{
		{sqldir.QueryMemberByLogin, false},
		{sqldir.QueryMemberByKey, false},
		{sqldir.QueryMemberByID, false},
		{sqldir.QueryMembersByEmail, false},
		{sqldir.QueryListMembers, false},
		{sqldir.QueryRolesByKey, false},
		{sqldir.QueryRolesInRange, false},
		{sqldir.QueryChangedSince, false},
		{sqldir.QueryMemberByKeyCommitted, true},
		{sqldir.QueryRolesByKeyCommitted, true},
	}
	ref := regexp.MustCompile(`(?i)dbo\.(\w+) AS \w+( WITH \(NOLOCK\))?`)
	for _, contactKey := range []bool{false, true} {
		qs := imisQueries(imisDialect{contactKey: contactKey})
		for _, tt := range tests {
			q, ok := qs[tt.query]
			if !ok {
				t.Fatalf("contact key %v: no query %s", contactKey, tt.query)
			}
			refs := ref.FindAllStringSubmatch(q, -1)
			if len(refs) == 0 {
				t.Fatalf("contact key %v: %s names no table", contactKey, tt.query)
			}
			for _, r := range refs {
				hinted := r[2] != ""
				want := !tt.committed || strings.EqualFold(r[1], "SystemConfig")
				if hinted != want {
					t.Errorf("contact key %v: %s: %q has NOLOCK = %v, want %v", contactKey, tt.query, r[0], hinted, want)
				}
			}
		}
	}
}
