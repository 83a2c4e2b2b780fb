package legacy

import (
	"fmt"
	"strings"
	"time"
)

// Member is one person as the AMS sees them. It never carries a password hash.
type Member struct {
	// Key is the AMS's immutable member key, canonical upper-case GUID text for iMIS: by
	// default the login's aspnet user id (UserMain.ProviderKey), which survives a contact merge
	// that re-creates the login under the surviving contact; with member_key: contact_key the
	// contact key (UserMain.UserKey = ContactMain.ContactKey). Subjects are derived from it,
	// never from Login.
	Key string
	// ContactKey is the AMS's contact key (iMIS ContactMain.ContactKey), for reference.
	ContactKey string
	// MemberID is the AMS's human-facing member number (iMIS Name.ID / UserMain.ContactMaster).
	MemberID string
	// Login is the sign-in name as stored (iMIS UserMain.UserId / aspnet_Users.UserName).
	Login string
	Email string
	// EmailUnique is true only when the AMS guarantees e-mail uniqueness
	// (iMIS runs requiresUniqueEmail="false", so it is false there).
	EmailUnique bool
	GivenName   string
	FamilyName  string
	FullName    string
	Company     string
	// MemberType is the member type code (iMIS Name.MEMBER_TYPE).
	MemberType string
	// MemberRecord is true when the member type counts as a membership (iMIS
	// Member_Types.MEMBER_RECORD = 1, the rule iMIS's own login procedure uses).
	MemberRecord bool
	// Status is the contact's record status (iMIS Name.STATUS: 'A' active, 'I' inactive,
	// 'S' suspended, 'D...' deleted). Released as the claim contact_status.
	Status string
	// MemberStatus is the membership status iMIS maintains (iMIS Name.MEMBER_STATUS: 'N' new,
	// 'R' renewed, 'D' dropped, 'S' reinstated). Released as the claim membership_status.
	MemberStatus string
	// JoinDate and PaidThrough are dates of the AMS's application clock (their Location is
	// that clock's fixed offset, so Format("2006-01-02") gives the AMS's date); zero when unknown.
	JoinDate    time.Time
	PaidThrough time.Time
	// Roles are the distinct role names the member holds, sorted; every directory lookup that
	// returns a member fills them (an empty, non-nil slice when there are none).
	Roles []string
	// Grants are the roles with the source each comes from (see RoleSources); a role held
	// through two sources appears twice.
	Grants []Grant
	// Staff is true when the user is iMIS staff (a row in the legacy Users table).
	Staff bool
	// SecondFactor is true when the AMS signs this account in only with a second factor
	// (iMIS: UserMain.MultiFactorInfo set, an authenticator enrolled there, or the site switch
	// PCI.MultiFactorAuthentication on): the bridge, which checks the AMS password alone, asks
	// for its own second factor (bridge/mfa), enrolled only after the AMS website's hand-off, so
	// that the account is not weaker here than at the AMS.
	SecondFactor bool
	PictureURL   string
	// Extra holds additional configured columns by name.
	Extra map[string]string

	// Standing is what decides whether the account may sign in at all.
	Standing Standing
	// UpdatedAt is the latest change time the AMS reports for this member (for change polling).
	UpdatedAt time.Time
}

// Standing is the account state the status rules read. Times are in the AMS's wall clock,
// converted to time.Time in the directory's configured location.
type Standing struct {
	Disabled          bool      // iMIS UserMain.IsDisabled
	EffectiveDate     time.Time // iMIS UserMain.EffectiveDate; zero = no lower bound
	ExpirationDate    time.Time // iMIS UserMain.ExpirationDate, the last valid instant; zero = never expires
	Approved          bool      // aspnet_Membership.IsApproved
	LockedOut         bool      // aspnet_Membership.IsLockedOut
	Deleted           bool      // Name.STATUS LIKE 'D%', ContactMain status 'Delete', or marked for delete
	PasswordChangedAt time.Time // aspnet_Membership.LastPasswordChangedDate; zero = unknown
	// SysAdmin is true for a system administrator, whose password expires by the AMS's
	// separate setting (iMIS: holds the SysAdmin role, UserRole with RoleKey
	// 8E5C7C1D-170B-4294-B646-2E60D2091DF8, vUserData.IsAdmin; see PasswordExpiry).
	SysAdmin bool
}

// PasswordExpiry is how long a password lasts before it must be changed, as the AMS decides
// it: iMIS keeps one setting for every user who is not a system administrator
// (SystemConfig PCI.PasswordExpireDays) and another for system administrators
// (PCI.PasswordExpireDaysSysAdmin). Zero means never.
type PasswordExpiry struct {
	MaxAge         time.Duration // members who are not system administrators
	SysAdminMaxAge time.Duration // system administrators (Standing.SysAdmin)
}

// For is the maximum password age that applies to an account with this standing: the
// system administrators' setting when s.SysAdmin, the other one otherwise.
func (p PasswordExpiry) For(s Standing) time.Duration {
	if s.SysAdmin {
		return p.SysAdminMaxAge
	}
	return p.MaxAge
}

// Check applies the status rules in a fixed order and returns nil or one of the typed
// failures (ErrDisabled, ErrNotApproved, ErrLockedOut, ErrAccountExpired, ErrNotMember,
// ErrPasswordExpired). passwordMaxAge of zero means passwords never expire; it is the age that
// applies to this account (PasswordExpiry.For: a system administrator's password expires by
// its own setting).
func (s Standing) Check(now time.Time, passwordMaxAge time.Duration) error {
	switch {
	case s.Deleted:
		return ErrNotMember
	case s.Disabled:
		return ErrDisabled
	case !s.EffectiveDate.IsZero() && now.Before(s.EffectiveDate):
		return ErrAccountExpired
	case !s.ExpirationDate.IsZero() && now.After(s.ExpirationDate):
		// Still valid at the expiration instant itself: iMIS's asi_UserMainLogin keeps the
		// row while ExpirationDate >= now, and so does the legacy Login view (it disables at
		// EXPIRATION_DATE < now) (review s20 Y-2).
		return ErrAccountExpired
	case !s.Approved:
		return ErrNotApproved
	case s.LockedOut:
		return ErrLockedOut
	case passwordMaxAge > 0 && !s.PasswordChangedAt.IsZero() && now.Sub(s.PasswordChangedAt) > passwordMaxAge:
		return ErrPasswordExpired
	}
	return nil
}

// BeforePassword is the refusal the AMS answers before it compares any password, whatever
// password was typed, in the AMS's order: ErrLockedOut for a locked-out account (iMIS's
// SqlMembershipProvider.CheckPassword: aspnet_Membership_GetPasswordWithFormat returns 99 for
// IsLockedOut = 1 before the stored password is read), then ErrNotApproved for an account
// not approved (CheckPassword returns false for IsApproved = 0 before it encodes the typed
// password, and without counting the attempt), nil otherwise. A directory answers it for a
// right and a wrong password alike, after the same verification work as an unknown login's
// (review s19 X19-4, review s20 Y-1): the AMS never compares a password for these accounts
// (nor, for an unapproved one, ever locks it out), so the bridge must not be an oracle that
// tells a guesser when the password is right. The other statuses (Check) are checked by iMIS
// after the password (asi_UserMainLogin runs once the provider said yes) and stay answered
// only after the right password.
func (s Standing) BeforePassword() error {
	switch {
	case s.LockedOut:
		return ErrLockedOut
	case !s.Approved:
		return ErrNotApproved
	}
	return nil
}

// IsCurrent reports whether the member is in good standing at now with no grace period:
// MembershipAt(now, 0).Current(). Directories and the bridge use MembershipAt with the
// configured grace period (and the association's rule, if any).
func (m *Member) IsCurrent(now time.Time) bool {
	return m.MembershipAt(now, 0).Current()
}

// Membership standings.
const (
	// StandingCurrent: a member record type, an active status, paid through today (or no
	// paid-through date: lifetime and honorary memberships).
	StandingCurrent = "current"
	// StandingGrace: paid-through date passed, but within the grace period. Counts as current.
	StandingGrace = "grace"
	// StandingLapsed: paid-through date (plus grace) passed. iMIS itself changes nothing when
	// PAID_THRU passes; staff run a lapse process that changes member type and status later.
	StandingLapsed = "lapsed"
	// StandingInactive: the record status is inactive, suspended or deleted (Name.STATUS
	// starting with I, S or D), whatever the member type says.
	StandingInactive = "inactive"
	// StandingNotMember: the member type is not a membership (Member_Types.MEMBER_RECORD = 0),
	// e.g. staff, non-member customers, or no member type.
	StandingNotMember = "not_member"
)

// Membership is a member's standing at one moment, and why.
type Membership struct {
	Standing string // one of the Standing* constants
	Reason   string // how it was decided, for people ("member type REG is a member record; paid through 2026-05-31")
}

// Current reports whether the standing counts as a current membership (current or grace).
func (s Membership) Current() bool {
	return s.Standing == StandingCurrent || s.Standing == StandingGrace
}

// MembershipAt decides the membership standing at now, iMIS's way: a contact is a member when
// its member type is a member record (Member_Types.MEMBER_RECORD = 1) and its record status
// (Name.STATUS) does not start with I, S or D (asi_ManageExpiredMembers' "active member"
// rule). A member is current through the end of the paid-through date (in the AMS's clock),
// or always when there is no paid-through date; then in grace for the grace period; then
// lapsed. The association may replace this rule with a CEL expression (bridge policy).
func (m *Member) MembershipAt(now time.Time, grace time.Duration) Membership {
	status := strings.ToUpper(strings.TrimSpace(m.Status))
	switch {
	case !m.MemberRecord:
		if m.MemberType == "" {
			return Membership{StandingNotMember, "no member type"}
		}
		return Membership{StandingNotMember, fmt.Sprintf("member type %s is not a member record", m.MemberType)}
	case status != "" && strings.ContainsRune("ISD", rune(status[0])):
		return Membership{StandingInactive, fmt.Sprintf("record status %s (inactive, suspended or deleted)", m.Status)}
	case m.PaidThrough.IsZero():
		return Membership{StandingCurrent, fmt.Sprintf("member type %s is a member record; no paid-through date", m.MemberType)}
	}
	paid := m.PaidThrough.Format("2006-01-02")
	end := endOfDay(m.PaidThrough)
	switch {
	case now.Before(end):
		return Membership{StandingCurrent, fmt.Sprintf("member type %s is a member record; paid through %s", m.MemberType, paid)}
	case grace > 0 && now.Before(end.Add(grace)):
		return Membership{StandingGrace, fmt.Sprintf("paid through %s; in the grace period of %s", paid, grace)}
	}
	return Membership{StandingLapsed, fmt.Sprintf("paid through %s, passed%s", paid, map[bool]string{true: " with the grace period of " + grace.String(), false: ""}[grace > 0])}
}

// endOfDay is the first instant after t's date, in t's location (the AMS's clock).
func endOfDay(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, t.Location())
}
