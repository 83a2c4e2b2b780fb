package legacy

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStandingCheck(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := Standing{Approved: true}
	cases := []struct {
		name   string
		s      Standing
		maxAge time.Duration
		want   error
	}{
		{"active", ok, 0, nil},
		{"deleted wins over everything", Standing{Deleted: true, Disabled: true, LockedOut: true}, 0, ErrNotMember},
		{"disabled", Standing{Approved: true, Disabled: true}, 0, ErrDisabled},
		{"not yet effective", Standing{Approved: true, EffectiveDate: now.Add(time.Hour)}, 0, ErrAccountExpired},
		{"effective now", Standing{Approved: true, EffectiveDate: now}, 0, nil},
		// asi_UserMainLogin: EffectiveDate <= now AND ExpirationDate >= now, both inclusive
		// (review s20 Y-2).
		{"expires exactly now: still valid", Standing{Approved: true, ExpirationDate: now}, 0, nil},
		{"expired a tick ago", Standing{Approved: true, ExpirationDate: now.Add(-time.Nanosecond)}, 0, ErrAccountExpired},
		{"expires later", Standing{Approved: true, ExpirationDate: now.Add(time.Minute)}, 0, nil},
		{"not approved", Standing{}, 0, ErrNotApproved},
		{"locked out", Standing{Approved: true, LockedOut: true}, 0, ErrLockedOut},
		{"password too old", Standing{Approved: true, PasswordChangedAt: now.AddDate(0, 0, -91)}, 90 * 24 * time.Hour, ErrPasswordExpired},
		{"password age unknown", Standing{Approved: true}, 90 * 24 * time.Hour, nil},
		{"passwords never expire", Standing{Approved: true, PasswordChangedAt: now.AddDate(-5, 0, 0)}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Check(now, tc.maxAge); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// A system administrator's password expires by the system administrators' setting, everyone
// else's by the other (iMIS PCI.PasswordExpireDaysSysAdmin and PCI.PasswordExpireDays).
func TestPasswordExpiryFor(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	member := Standing{Approved: true, PasswordChangedAt: now.Add(-40 * day)}
	admin := member
	admin.SysAdmin = true
	cases := []struct {
		name          string
		p             PasswordExpiry
		member, admin error
	}{
		{"members' setting only", PasswordExpiry{MaxAge: 30 * day}, ErrPasswordExpired, nil},
		{"system administrators' setting only", PasswordExpiry{SysAdminMaxAge: 30 * day}, nil, ErrPasswordExpired},
		{"both, neither reached", PasswordExpiry{MaxAge: 50 * day, SysAdminMaxAge: 45 * day}, nil, nil},
		{"both reached", PasswordExpiry{MaxAge: 39 * day, SysAdminMaxAge: 10 * day}, ErrPasswordExpired, ErrPasswordExpired},
		{"neither set", PasswordExpiry{}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := member.Check(now, tc.p.For(member)); !errors.Is(err, tc.member) || (tc.member == nil && err != nil) {
				t.Errorf("member: %v, want %v", err, tc.member)
			}
			if err := admin.Check(now, tc.p.For(admin)); !errors.Is(err, tc.admin) || (tc.admin == nil && err != nil) {
				t.Errorf("system administrator: %v, want %v", err, tc.admin)
			}
		})
	}
}

func TestReasonAndUnavailable(t *testing.T) {
	u := Unavailable("authenticate", errors.New("dial tcp: refused"))
	if !errors.Is(u, ErrUnavailable) || Reason(u) != "ams_unavailable" {
		t.Fatalf("unavailable: %v %s", u, Reason(u))
	}
	for err, want := range map[error]string{
		nil: "ok", ErrBadCredentials: "bad_credentials", fmt.Errorf("x: %w", ErrLockedOut): "locked_out",
		ErrUnsupportedHash: "unsupported_hash", errors.New("other"): "error",
	} {
		if got := Reason(err); got != want {
			t.Fatalf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestMembershipAt(t *testing.T) {
	west := time.FixedZone("app", -6*3600) // iMIS application clock UTC-06:00
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, west) }
	reg := func(paid time.Time, status string) *Member {
		return &Member{MemberType: "REG", MemberRecord: true, Status: status, PaidThrough: paid}
	}
	for _, tc := range []struct {
		name  string
		m     *Member
		now   time.Time
		grace time.Duration
		want  string
	}{
		{"no member type", &Member{}, now, 0, StandingNotMember},
		{"staff type is no member record", &Member{MemberType: "STAFF", Status: "A", PaidThrough: day(2030, 1, 1)}, now, 0, StandingNotMember},
		{"no paid-through date: current", reg(time.Time{}, "A"), now, 0, StandingCurrent},
		{"paid through today (app clock)", reg(day(2026, 6, 1), "A"), now, 0, StandingCurrent},
		// 2026-06-01 23:59 in UTC-6 is 2026-06-02 05:59 UTC: still paid through that day.
		{"last minute of the app day", reg(day(2026, 6, 1), "A"), time.Date(2026, 6, 2, 5, 59, 0, 0, time.UTC), 0, StandingCurrent},
		{"first minute after the app day", reg(day(2026, 6, 1), "A"), time.Date(2026, 6, 2, 6, 0, 0, 0, time.UTC), 0, StandingLapsed},
		{"yesterday, no grace", reg(day(2026, 5, 31), "A"), now, 0, StandingLapsed},
		{"yesterday, in grace", reg(day(2026, 5, 31), "A"), now, 30 * 24 * time.Hour, StandingGrace},
		{"grace over", reg(day(2026, 4, 1), "A"), now, 30 * 24 * time.Hour, StandingLapsed},
		{"inactive status", reg(day(2030, 1, 1), "I"), now, 0, StandingInactive},
		{"suspended status", reg(day(2030, 1, 1), "S"), now, 0, StandingInactive},
		{"deleted status", reg(day(2030, 1, 1), "D"), now, 0, StandingInactive},
		{"blank status counts as active", reg(day(2030, 1, 1), ""), now, 0, StandingCurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.m.MembershipAt(tc.now, tc.grace)
			if got.Standing != tc.want || got.Reason == "" {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
			if tc.m.IsCurrent(tc.now) != (tc.m.MembershipAt(tc.now, 0).Current()) {
				t.Fatal("IsCurrent disagrees with MembershipAt(now, 0)")
			}
		})
	}
}

// TestBeforePassword (review s20 Y-1): the refusals iMIS's SqlMembershipProvider answers
// before it compares any password, in its order (the lockout, then approval), and none for
// the statuses iMIS checks after the password.
func TestBeforePassword(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    Standing
		want error
	}{
		{"active", Standing{Approved: true}, nil},
		{"locked out", Standing{Approved: true, LockedOut: true}, ErrLockedOut},
		{"not approved", Standing{}, ErrNotApproved},
		{"locked out and not approved: the lockout first", Standing{LockedOut: true}, ErrLockedOut},
		{"disabled: after the password", Standing{Approved: true, Disabled: true}, nil},
		{"deleted: after the password", Standing{Approved: true, Deleted: true}, nil},
		{"expired: after the password", Standing{Approved: true, ExpirationDate: now.Add(-time.Hour)}, nil},
		{"not approved and deleted: before the password", Standing{Deleted: true}, ErrNotApproved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.BeforePassword(); err != tc.want {
				t.Fatalf("BeforePassword() = %v, want %v", err, tc.want)
			}
		})
	}
}
