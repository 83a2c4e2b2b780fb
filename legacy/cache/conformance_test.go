package cache_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
)

// fakeTarget is the cache tests' fake directory with the members the suite needs besides its
// two seeded ones (Alice, K1, role Member; zoë, K2, no roles): carol, a staff member, and one
// account refused for each standing, served through dir (the fake itself, or the cache
// over it).
func fakeTarget(dir func(cache.Fake) legacy.Directory) *directorytest.Target {
	f := cache.NewFake()
	ok := legacy.Standing{Approved: true}
	f.Add(&legacy.Member{Key: "K3", Login: "carol", MemberID: "1003", FullName: "Carol Staff", Staff: true, Email: "carol@example.org", Standing: ok},
		"carol-pw", "Board", "Staff")
	f.Add(&legacy.Member{Key: "K4", Login: "locked", MemberID: "1004", Standing: legacy.Standing{Approved: true, LockedOut: true}}, "locked-pw", "Member")
	f.Add(&legacy.Member{Key: "K5", Login: "una", MemberID: "1005", Standing: legacy.Standing{}}, "una-pw")
	f.Add(&legacy.Member{Key: "K6", Login: "dora", MemberID: "1006", Standing: legacy.Standing{Approved: true, Deleted: true}}, "dora-pw", "Member")
	f.Add(&legacy.Member{Key: "K7", Login: "dave", MemberID: "1007", Standing: legacy.Standing{Approved: true, Disabled: true}}, "dave-pw")
	return &directorytest.Target{
		Dir: dir(f),
		Members: []directorytest.Account{
			{Login: "Alice", Password: "pw", Key: "K1", MemberID: "1001", Roles: []string{"Member"}},
			{Login: "zoë", Password: "pw", Key: "K2", MemberID: "1002", Roles: []string{}},
			{Login: "carol", Password: "carol-pw", Key: "K3", MemberID: "1003", Roles: []string{"Board", "Staff"}, Staff: true},
		},
		Refused: []directorytest.Refused{
			{Login: "locked", Password: "locked-pw", Reason: "locked_out"},
			{Login: "una", Password: "una-pw", Reason: "not_approved"},
			{Login: "dora", Password: "dora-pw", Reason: "not_member"},
			{Login: "dave", Password: "dave-pw", Reason: "disabled"},
		},
		Work:    f.Compares,
		SetDown: f.SetDown,
		Touch:   f.Touch,
	}
}

// TestFakeConformance: the fake the cache's tests wrap passes the directory contract, as the
// directories it stands in for do (session 28, L; it was never run through the suite: its
// sign-in answered an unavailable backend as a wrong password, and its ChangedSince,
// ListMembers and Ping answered with the backend away); so does the cache over it, through
// each way the cache reads it (the roleless sign-in, the plain one, a committed read).
func TestFakeConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(cache.Fake) legacy.Directory
	}{
		{"fake", cache.Fake.Dir},
		{"fake with a committed read", cache.Fake.Committed},
		{"cache over the fake", func(f cache.Fake) legacy.Directory { return cache.New(f.Dir(), cache.Options{}) }},
		{"cache over the fake without a roleless sign-in", func(f cache.Fake) legacy.Directory { return cache.New(f.Plain(), cache.Options{}) }},
		{"cache over the fake with a committed read", func(f cache.Fake) legacy.Directory { return cache.New(f.Committed(), cache.Options{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			directorytest.Run(t, func(t *testing.T) *directorytest.Target { return fakeTarget(tc.dir) })
		})
	}
}
