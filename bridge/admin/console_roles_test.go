package admin_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestConsoleRoleNotGrantedByAGroupName (review s14 X-5): the admin console admits a member holding one of admin.console.roles
// (default example [SysAdmin]) by name, matched case-insensitively against the member's roles
// from every source at once: assigned roles and staff roles, but also any group the contact is
// in (committees, company groups, member-type groups named after a member type's description),
// legacy web security groups and the member type code. iMIS itself authorises by the principal's
// key (RoleMain.RoleKey, GroupMain.GroupKey), never by a name, so a committee or company group
// that happens to be called "SysAdmin" (or "sysadmin") grants nothing there, but opens the
// bridge's console (withdraw keys, delete clients, reset second factors) to each of its members.
func TestConsoleRoleNotGrantedByAGroupName(t *testing.T) {
	ctx := context.Background()
	d, db, err := demo.OpenDirectory(ctx, filepath.Join(t.TempDir(), "ams.db"), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A committee named like the staff role (of the Board's group type); alice, a plain member, joins it.
	if _, err := db.ExecContext(ctx, `INSERT INTO GroupMain (GroupKey, Name, UpdatedOn, GroupTypeKey, CreatedOn)
		SELECT '7A000000-0000-4000-8000-000000000001', 'sysadmin', UpdatedOn, GroupTypeKey, CreatedOn FROM GroupMain
		WHERE Name = 'Board of Directors'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO GroupMember (GroupMemberKey, GroupKey, MemberContactKey, CreatedOn, UpdatedOn)
		SELECT '7B000000-0000-4000-8000-000000000001', '7A000000-0000-4000-8000-000000000001', MemberContactKey, CreatedOn, UpdatedOn
		FROM GroupMember WHERE GroupKey = (SELECT GroupKey FROM GroupMain WHERE Name = 'Board of Directors')
		AND MemberContactKey = ?1`, aliceContact()); err != nil {
		t.Fatal(err)
	}
	m, err := d.Authenticate(ctx, "alice", "alice-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alice's roles: %v; grants: %v", m.Roles, m.Grants)
	if !admin.HasRole(m.Roles, []string{"SysAdmin"}) {
		t.Fatalf("the committee did not reach alice's roles (%v): the test proves nothing", m.Roles)
	}
	if admin.HasRole(admin.ConsoleRoles(m), []string{"SysAdmin"}) {
		t.Errorf("a committee named 'sysadmin' admits its members to the admin console (roles %v)", m.Roles)
	}
	// The staff user holds SysAdmin as an assigned role and a legacy staff role: admitted.
	staff, err := d.Authenticate(ctx, "staff", demoPassword("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if !admin.HasRole(admin.ConsoleRoles(staff), []string{"SysAdmin"}) {
		t.Errorf("the staff user's SysAdmin role does not admit it (grants %v)", staff.Grants)
	}
}

func demoPassword(login string) string {
	for _, l := range demo.Logins() {
		if l.Login == login {
			return l.Password
		}
	}
	return ""
}

func aliceContact() string {
	for _, l := range demo.Logins() {
		if l.Login == "alice" {
			return l.ContactKey
		}
	}
	return ""
}
