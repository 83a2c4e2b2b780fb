package bridgetest

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
)

// ConformanceTarget is the directory conformance suite's target (legacy/directorytest) for the
// test directory d served through dir (nil: d itself). It adds to d the members the suite
// needs besides NewDirectory's (carol, without roles; dora, deleted; una, not approved). A
// test directory that wraps d (a fault injector of another package's tests) passes it as dir
// to show it keeps the directory contract when it injects nothing.
func ConformanceTarget(d *Directory, dir legacy.Directory) *directorytest.Target {
	if dir == nil {
		dir = d
	}
	d.Add(&legacy.Member{Key: "44444444-4444-4444-4444-444444444444", MemberID: "1004", Login: "carol", FullName: "Carol NoRoles",
		Standing: legacy.Standing{Approved: true}}, "carol-password")
	d.Add(&legacy.Member{Key: "55555555-5555-5555-5555-555555555555", MemberID: "1005", Login: "dora", FullName: "Dora Deleted",
		Standing: legacy.Standing{Approved: true, Deleted: true}}, "dora-password")
	d.Add(&legacy.Member{Key: "66666666-6666-6666-6666-666666666666", MemberID: "1006", Login: "una", FullName: "Una Unapproved"}, "una-password")
	return &directorytest.Target{
		Dir: dir,
		Members: []directorytest.Account{
			{Login: "alice", Password: "alice-password", Key: "11111111-1111-1111-1111-111111111111", MemberID: "1001", Roles: []string{"Member"}},
			{Login: "bob", Password: "bob-password", Key: "22222222-2222-2222-2222-222222222222", MemberID: "1002", Roles: []string{"Staff", "SysAdmin"}, Staff: true},
			{Login: "carol", Password: "carol-password", Key: "44444444-4444-4444-4444-444444444444", MemberID: "1004", Roles: []string{}},
		},
		Refused: []directorytest.Refused{
			{Login: "locked", Password: "locked-password", Reason: "locked_out"},
			{Login: "dora", Password: "dora-password", Reason: "not_member"},
			{Login: "una", Password: "una-password", Reason: "not_approved"},
		},
		Work:    d.Comparisons.Load,
		SetDown: func(down bool) { d.mu.Lock(); d.Down = down; d.mu.Unlock() },
		Touch: func(_ context.Context, login string, at time.Time) error {
			d.Touch(login, at)
			return nil
		},
	}
}
