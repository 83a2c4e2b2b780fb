package legacy

import (
	"fmt"
	"slices"
	"strings"
)

// Role sources: where a member's roles come from. They are the sources iMIS itself uses for a
// user's security principals (its login procedure asi_UserMainLogin / asi_UserTokenUpdate,
// see /work/shared/reference/imis-schema.md §3), each one switchable in the directory's
// configuration.
const (
	// RoleSourceUserRoles: roles assigned to the user (UserRole ⋈ RoleMain), without the
	// system Everyone role and rows marked for delete.
	RoleSourceUserRoles = "user_roles"
	// RoleSourceGroups: groups the contact belongs to inside the membership's JoinDate/DropDate
	// window (GroupMember ⋈ GroupMain), other than member-type security groups: committees,
	// company groups, staff groups.
	RoleSourceGroups = "groups"
	// RoleSourceMemberTypeGroups: the member-type security group ('Member Type Security' group
	// type, named after Member_Types.DESCRIPTION) that iMIS keeps up to date by trigger.
	RoleSourceMemberTypeGroups = "member_type_groups"
	// RoleSourceSecurityGroups: the legacy web security groups (Name_Security_Groups).
	RoleSourceSecurityGroups = "security_groups"
	// RoleSourceMemberType: the member type code itself (Name.MEMBER_TYPE, e.g. "REG").
	RoleSourceMemberType = "member_type"
	// RoleSourceMemberGroup: the Member group (SystemConfig CM.MemberGroupKey) for a member
	// type whose Member_Types.MEMBER_RECORD is 1.
	RoleSourceMemberGroup = "member_group"
	// RoleSourceStaffRoles: iMIS's legacy staff roles (view vLegacySecurityRole): for a user
	// with a row in the legacy Users table, CustomerLevelN, BillingLevelN, ... up to each
	// module's Users.Level* column, and SysAdmin when LevelSystem is 8 or more.
	RoleSourceStaffRoles = "staff_roles"
	// RoleSourceEveryone: iMIS's "Everyone" pseudo-role, held by every user (off by default:
	// it says nothing about the member).
	RoleSourceEveryone = "everyone"
	// RoleSourceAuthenticatedUsers: iMIS's "AuthenticatedUsers" pseudo-group, held by every
	// signed-in user (off by default).
	RoleSourceAuthenticatedUsers = "authenticated_users"
)

// RoleSources lists every role source, in the order they are reported.
func RoleSources() []string {
	return []string{RoleSourceUserRoles, RoleSourceGroups, RoleSourceMemberTypeGroups, RoleSourceSecurityGroups,
		RoleSourceMemberType, RoleSourceMemberGroup, RoleSourceStaffRoles, RoleSourceEveryone, RoleSourceAuthenticatedUsers}
}

// DefaultRoleSources are the sources a real iMIS uses for authorisation, without the
// Everyone and AuthenticatedUsers pseudo-roles that every signed-in user holds.
func DefaultRoleSources() []string {
	return []string{RoleSourceUserRoles, RoleSourceGroups, RoleSourceMemberTypeGroups, RoleSourceSecurityGroups,
		RoleSourceMemberType, RoleSourceMemberGroup, RoleSourceStaffRoles}
}

// CheckRoleSources validates a list of role source names.
func CheckRoleSources(sources []string) error {
	all := RoleSources()
	for i, s := range sources {
		if !slices.Contains(all, s) {
			return fmt.Errorf("[%d]: unknown role source %q (want one of %s)", i, s, strings.Join(all, ", "))
		}
	}
	return nil
}

// Grant is one role a member holds, with the source it comes from.
type Grant struct {
	Role   string
	Source string
}

// RolesOf returns the distinct role names of grants, sorted (an empty, non-nil slice when
// there are none).
func RolesOf(grants []Grant) []string {
	out := make([]string, 0, len(grants))
	for _, g := range grants {
		if r := strings.TrimSpace(g.Role); r != "" {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SetGrants sets the member's Grants and Roles (the distinct role names) from grants.
func (m *Member) SetGrants(grants []Grant) {
	m.Grants = slices.Clone(grants)
	if m.Grants == nil {
		m.Grants = []Grant{}
	}
	m.Roles = RolesOf(grants)
}
