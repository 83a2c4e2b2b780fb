package legacy

import (
	"time"
)

// Member is one person as the AMS sees them. It never carries a password hash.
type Member struct {
	// Key is the AMS's immutable contact key (iMIS UserMain.UserKey = ContactMain.ContactKey),
	// canonical upper-case GUID text for iMIS. Subjects are derived from it, never from Login.
	Key string
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
	MemberType  string
	// Status is the AMS's contact status code (iMIS Name.STATUS: 'A' active, 'D...' deleted).
	Status      string
	JoinDate    time.Time // zero when unknown
	PaidThrough time.Time // zero when unknown
	Roles       []string
	PictureURL  string
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
	ExpirationDate    time.Time // iMIS UserMain.ExpirationDate; zero = never expires
	Approved          bool      // aspnet_Membership.IsApproved
	LockedOut         bool      // aspnet_Membership.IsLockedOut
	Deleted           bool      // Name.STATUS LIKE 'D%', ContactMain status 'Delete', or marked for delete
	PasswordChangedAt time.Time // aspnet_Membership.LastPasswordChangedDate; zero = unknown
}

// Check applies the status rules in a fixed order and returns nil or one of the typed
// failures (ErrDisabled, ErrNotApproved, ErrLockedOut, ErrAccountExpired, ErrNotMember,
// ErrPasswordExpired). passwordMaxAge of zero means passwords never expire.
func (s Standing) Check(now time.Time, passwordMaxAge time.Duration) error {
	switch {
	case s.Deleted:
		return ErrNotMember
	case s.Disabled:
		return ErrDisabled
	case !s.EffectiveDate.IsZero() && now.Before(s.EffectiveDate):
		return ErrAccountExpired
	case !s.ExpirationDate.IsZero() && !now.Before(s.ExpirationDate):
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

// IsCurrent reports whether the membership is paid through now (or has no paid-through date
// and a member type at all). It is profile data for claims and access rules, not a sign-in rule.
func (m *Member) IsCurrent(now time.Time) bool {
	if m.PaidThrough.IsZero() {
		return false
	}
	return !now.After(endOfDay(m.PaidThrough))
}

func endOfDay(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 23, 59, 59, 0, t.Location())
}
