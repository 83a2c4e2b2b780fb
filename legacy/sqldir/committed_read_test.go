package sqldir_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestFreshMemberByKeyRunsTheCommittedQueries (session 26, review s26 R3-4): the read that
// confirms a deactivation runs member_by_key_committed and roles_by_key_committed, which read
// committed data, while MemberByKey (the look-ups, which read WITH (NOLOCK) on SQL Server) runs
// member_by_key and roles_by_key. Each committed query is overridden here with a text that
// answers differently, so the test sees which one ran.
func TestFreshMemberByKeyRunsTheCommittedQueries(t *testing.T) {
	alice := login(t, "alice")
	base := imis.PresetIMISSQLite()
	tests := []struct {
		name    string
		queries map[string]string
		check   func(t *testing.T, m *legacy.Member, err error)
	}{
		{"member_by_key_committed", map[string]string{
			sqldir.QueryMemberByKeyCommitted: strings.Replace(base[sqldir.QueryMemberByKey], "JOIN Name AS n", "JOIN NoSuchTable AS n", 1)},
			func(t *testing.T, m *legacy.Member, err error) {
				if err == nil || !strings.Contains(err.Error(), "member_by_key_committed") {
					t.Fatalf("FreshMemberByKey = %+v, %v; want member_by_key_committed's failure", m, err)
				}
			}},
		{"roles_by_key_committed", map[string]string{
			sqldir.QueryRolesByKeyCommitted: "SELECT 'CommittedRole' AS role, 'user_roles' AS source"},
			func(t *testing.T, m *legacy.Member, err error) {
				if err != nil || !slices.Equal(m.Roles, []string{"CommittedRole"}) {
					t.Fatalf("FreshMemberByKey = %v, %v; want the roles of roles_by_key_committed", m.Roles, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := withQueries(t, tt.queries)
			byKey, err := d.MemberByKey(ctx, alice.Key)
			if err != nil || slices.Contains(byKey.Roles, "CommittedRole") {
				t.Fatalf("MemberByKey = %+v, %v; want alice by member_by_key and roles_by_key", byKey, err)
			}
			m, err := d.FreshMemberByKey(ctx, alice.Key)
			tt.check(t, m, err)
		})
	}
	if _, err := withQueries(t, nil).FreshMemberByKey(ctx, "not a key"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("FreshMemberByKey of a malformed key = %v; want ErrNotFound", err)
	}
}

// TestFreshMemberByKeyRunsAnOverriddenMemberByKey (review s26 R3-4): member_by_key (or
// roles_by_key) written in queries: without its committed variant is what the confirming read
// runs too, not the preset's committed text, which would decide by other rules than the
// operator's query (a member the override refuses and the preset allows would never be
// deactivated).
func TestFreshMemberByKeyRunsAnOverriddenMemberByKey(t *testing.T) {
	base := imis.PresetIMISSQLite()
	d := withQueries(t, map[string]string{
		sqldir.QueryMemberByKey: strings.Replace(base[sqldir.QueryMemberByKey], "JOIN Name AS n", "JOIN NoSuchTable AS n", 1),
		sqldir.QueryRolesByKey:  "SELECT 'OwnRole' AS role, 'user_roles' AS source"})
	if _, err := d.FreshMemberByKey(ctx, login(t, "alice").Key); err == nil || !strings.Contains(err.Error(), "member_by_key") ||
		strings.Contains(err.Error(), "member_by_key_committed") {
		t.Fatalf("FreshMemberByKey = %v; want the overridden member_by_key's failure", err)
	}
	d = withQueries(t, map[string]string{sqldir.QueryRolesByKey: "SELECT 'OwnRole' AS role, 'user_roles' AS source"})
	m, err := d.FreshMemberByKey(ctx, login(t, "alice").Key)
	if err != nil || !slices.Equal(m.Roles, []string{"OwnRole"}) {
		t.Fatalf("FreshMemberByKey roles = %v, %v; want the overridden roles_by_key's", m, err)
	}
}
