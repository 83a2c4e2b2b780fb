package imis

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestIMISMemberReadsCommitted (session 26, review s25 Y-7): the queries whose rows decide who a
// member is and whether they may sign in (look-ups by login, key, member id and e-mail, the
// reconcile's listing, the roles) carry no NOLOCK hint in either member key mode, so SQL Server
// reads them under READ COMMITTED, never a contact half saved or rolled back; the change scan,
// whose rows only name the members to read again, keeps its hint.
func TestIMISMemberReadsCommitted(t *testing.T) {
	tests := []struct {
		query  string
		nolock bool
	}{
		{sqldir.QueryMemberByLogin, false},
		{sqldir.QueryMemberByKey, false},
		{sqldir.QueryMemberByID, false},
		{sqldir.QueryMembersByEmail, false},
		{sqldir.QueryListMembers, false},
		{sqldir.QueryRolesByKey, false},
		{sqldir.QueryRolesInRange, false},
		{sqldir.QueryChangedSince, true},
	}
	for _, contactKey := range []bool{false, true} {
		qs := imisQueries(imisDialect{contactKey: contactKey})
		for _, tt := range tests {
			q, ok := qs[tt.query]
			if !ok {
				t.Fatalf("contact key %v: no query %s", contactKey, tt.query)
			}
			if got := strings.Contains(strings.ToUpper(q), "NOLOCK"); got != tt.nolock {
				t.Errorf("contact key %v: %s has NOLOCK = %v, want %v:\n%s", contactKey, tt.query, got, tt.nolock, q)
			}
		}
	}
}
