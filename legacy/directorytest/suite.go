package directorytest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Account is a member that signs in with Password.
type Account struct {
	Login, Password string
	Key, MemberID   string
	// Roles are the member's roles, exactly (sorted).
	Roles []string
	Staff bool
}

// Refused is a member whose right Password gives a sign-in failure: Reason is legacy.Reason of
// the error ("disabled", "locked_out", "not_member", ...).
type Refused struct {
	Login, Password string
	Reason          string
}

// Target is one directory under test, with what the suite needs to know about its data.
type Target struct {
	Dir legacy.Directory
	// Members sign in (at least three); Refused fail after the right password.
	Members []Account
	Refused []Refused
	// Work returns how much sign-in work the directory has done so far: its password
	// verifications, and any other unit it can count (sqldir: the member rows it decoded);
	// nil when it cannot be observed (the work check is then skipped).
	Work func() int64
	// SetDown makes the directory's backend unavailable (true) or available again (false);
	// nil skips the unavailability checks.
	SetDown func(down bool)
	// Touch sets a member's latest change time to at (whole seconds, in the future of every
	// seeded change); nil skips the change-ordering checks.
	Touch func(ctx context.Context, login string, at time.Time) error
	// Expiry, when set, lets the suite store the AMS's password expiry settings; nil skips
	// the password expiry checks.
	Expiry *Expiry
}

// Expiry is what the password expiry checks need: iMIS expires the password of a system
// administrator by PCI.PasswordExpireDaysSysAdmin and everyone else's by
// PCI.PasswordExpireDays, and so must the directory.
type Expiry struct {
	// Set stores the two settings in the AMS, in whole days (0 = never): for members who are
	// not system administrators, and for system administrators. The suite calls it on a
	// fresh target before the directory first reads them.
	Set func(ctx context.Context, memberDays, sysAdminDays int) error
	// Member is not a system administrator, SysAdmin is one; both sign in with the settings
	// at 0 and their passwords were last changed AgeDays ago (at least 2, whole days).
	Member, SysAdmin Aged
}

// Aged is an account whose password was last changed AgeDays ago.
type Aged struct {
	Login, Password string
	AgeDays         int
}

// Run runs the suite; newTarget is called once per subtest for a fresh directory.
func Run(t *testing.T, newTarget func(t *testing.T) *Target) {
	t.Run("authenticate returns the member with roles", func(t *testing.T) { testAuthenticate(t, newTarget(t)) })
	t.Run("unknown login and wrong password are indistinguishable", func(t *testing.T) { testIndistinguishable(t, newTarget(t)) })
	t.Run("status only after the right password", func(t *testing.T) { testStatus(t, newTarget(t)) })
	t.Run("locked out or not approved whatever the password", func(t *testing.T) { testLockedOut(t, newTarget(t)) })
	t.Run("every lookup returns roles", func(t *testing.T) { testLookups(t, newTarget(t)) })
	t.Run("unknown members are not found", func(t *testing.T) { testNotFound(t, newTarget(t)) })
	t.Run("unavailability is its own error", func(t *testing.T) { testUnavailable(t, newTarget(t)) })
	t.Run("changed since: ordered, ties together", func(t *testing.T) { testChangedSince(t, newTarget(t)) })
	t.Run("list members: every live member once, by key", func(t *testing.T) { testListMembers(t, newTarget(t)) })
	t.Run("members by e-mail: case-insensitive, with roles", func(t *testing.T) { testMembersByEmail(t, newTarget(t)) })
	t.Run("password expiry: system administrators by their own setting", func(t *testing.T) { testPasswordExpiry(t, newTarget) })
	t.Run("database clock: now, as an instant", func(t *testing.T) { testDatabaseNow(t, newTarget(t)) })
}

// testDatabaseNow (legacy.ClockReader, review s27 R5-4): a directory that reads the AMS's
// clock returns the current instant. Every test target's AMS runs on this host's clock, so
// the reading is within a minute of it: one in another frame (the application clock read as
// UTC, its offset applied twice or the wrong way; the demo's is six hours) is hours off. Two
// readings do not go back. A directory without a clock says so (legacy.ErrNoClock), and the
// unavailability check asks it with the AMS away.
func testDatabaseNow(t *testing.T, tg *Target) {
	c, ok := tg.Dir.(legacy.ClockReader)
	if !ok {
		t.Skip("the directory cannot read the AMS's clock")
	}
	ctx := ctxFor(t)
	before := time.Now()
	first, err := c.DatabaseNow(ctx)
	if errors.Is(err, legacy.ErrNoClock) {
		t.Skip("the directory has no clock to read (legacy.ErrNoClock)")
	}
	if err != nil {
		t.Fatalf("DatabaseNow: %v", err)
	}
	after := time.Now()
	if first.Before(before.Add(-time.Minute)) || first.After(after.Add(time.Minute)) {
		t.Errorf("DatabaseNow = %s; want the current instant (this host's clock read %s): another frame?",
			first.UTC().Format(time.RFC3339Nano), before.UTC().Format(time.RFC3339Nano))
	}
	second, err := c.DatabaseNow(ctx)
	if err != nil {
		t.Fatalf("DatabaseNow again: %v", err)
	}
	if second.Before(first) {
		t.Errorf("DatabaseNow went back: %s then %s", first.Format(time.RFC3339Nano), second.Format(time.RFC3339Nano))
	}
}

// testPasswordExpiry: with each combination of the two settings, the member who is not a
// system administrator is refused password_expired exactly when the members' setting is
// shorter than their password's age, and the system administrator exactly when the system
// administrators' setting is; lookups say which of the two each is.
func testPasswordExpiry(t *testing.T, newTarget func(t *testing.T) *Target) {
	tg := newTarget(t) // the first case's target (each later case makes its own)
	if tg.Expiry == nil {
		t.Skip("the target cannot change the password expiry settings")
	}
	type want struct{ member, admin bool } // expired
	cases := []struct {
		name string
		// days for each setting, from the account's password age: 0 never, -1 half of it
		// (expired), +1 twice it (not yet)
		member, admin int
		want          want
	}{
		{"neither set", 0, 0, want{}},
		{"members' setting reached, system administrators' never", -1, 0, want{member: true}},
		{"system administrators' setting reached, members' never", 0, -1, want{admin: true}},
		{"both set, neither reached", +1, +1, want{}},
		{"members' reached, system administrators' not", -1, +1, want{member: true}},
		{"system administrators' reached, members' not", +1, -1, want{admin: true}},
		{"both reached", -1, -1, want{member: true, admin: true}},
	}
	days := func(mode, age int) int {
		switch mode {
		case -1:
			return age / 2
		case +1:
			return age * 2
		}
		return 0
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if i > 0 {
				tg = newTarget(t)
			}
			x := tg.Expiry
			ctx := ctxFor(t)
			if x.Member.AgeDays < 2 || x.SysAdmin.AgeDays < 2 {
				t.Fatalf("the target's accounts' passwords are too young: %d and %d days", x.Member.AgeDays, x.SysAdmin.AgeDays)
			}
			if err := x.Set(ctx, days(tc.member, x.Member.AgeDays), days(tc.admin, x.SysAdmin.AgeDays)); err != nil {
				t.Fatal(err)
			}
			for _, a := range []struct {
				who     string
				acct    Aged
				expired bool
			}{{"member", x.Member, tc.want.member}, {"system administrator", x.SysAdmin, tc.want.admin}} {
				_, err := tg.Dir.Authenticate(ctx, a.acct.Login, a.acct.Password)
				switch {
				case a.expired && legacy.Reason(err) != "password_expired":
					t.Errorf("%s %s: %v (%s), want password_expired", a.who, a.acct.Login, err, legacy.Reason(err))
				case !a.expired && err != nil:
					t.Errorf("%s %s: %v, want a sign-in", a.who, a.acct.Login, err)
				}
			}
			for _, a := range []struct {
				acct  Aged
				admin bool
			}{{x.Member, false}, {x.SysAdmin, true}} {
				m, err := tg.Dir.MemberByLogin(ctx, a.acct.Login)
				if err != nil {
					t.Fatalf("MemberByLogin(%q): %v", a.acct.Login, err)
				}
				if m.Standing.SysAdmin != a.admin {
					t.Errorf("%s: Standing.SysAdmin = %t, want %t", a.acct.Login, m.Standing.SysAdmin, a.admin)
				}
			}
		})
	}
}

// testMembersByEmail checks legacy.EmailFinder, for directories that have it: every member
// with an address is found by it in another case and with spaces around it, everyone found has
// that address (case-insensitively) and their roles, unknown and blank addresses find nobody
// (an empty result, no error), and an unavailable backend is legacy.ErrUnavailable.
func testMembersByEmail(t *testing.T, tg *Target) {
	f, ok := tg.Dir.(legacy.EmailFinder)
	if !ok {
		t.Skip("the directory cannot find members by e-mail")
	}
	ctx := ctxFor(t)
	if _, err := f.MembersByEmail(ctx, "nobody@example.invalid", 10); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("the directory's configuration cannot find members by e-mail")
	}
	checked := 0
	for _, a := range tg.Members {
		m, err := tg.Dir.MemberByLogin(ctx, a.Login)
		if err != nil {
			t.Fatalf("MemberByLogin(%q): %v", a.Login, err)
		}
		if m.Email == "" {
			continue
		}
		checked++
		found, err := f.MembersByEmail(ctx, "  "+strings.ToUpper(m.Email)+" ", 0)
		if err != nil {
			t.Fatalf("MembersByEmail(%q): %v", m.Email, err)
		}
		if !slices.ContainsFunc(found, func(x *legacy.Member) bool { return strings.EqualFold(x.Key, m.Key) }) {
			t.Errorf("MembersByEmail(%q) = %v, want it to include %s", m.Email, keysOf(found), m.Key)
		}
		for _, x := range found {
			if !strings.EqualFold(strings.TrimSpace(x.Email), strings.TrimSpace(m.Email)) {
				t.Errorf("MembersByEmail(%q) returned %s with address %q", m.Email, x.Key, x.Email)
			}
			checked := x.Key == m.Key
			var want []string
			if checked {
				want = a.Roles
			}
			checkRoles(t, "MembersByEmail "+x.Key, x, want)
		}
		if !slices.IsSortedFunc(found, func(a, b *legacy.Member) int {
			return strings.Compare(strings.ToUpper(a.Key), strings.ToUpper(b.Key))
		}) {
			t.Errorf("MembersByEmail(%q) = %v: not ordered by key", m.Email, keysOf(found))
		}
	}
	if checked == 0 {
		t.Error("no member has an e-mail address: the look-up was not exercised")
	}
	for _, addr := range []string{"nobody-at-all@example.invalid", "", "   "} {
		found, err := f.MembersByEmail(ctx, addr, 10)
		if err != nil || found == nil || len(found) != 0 {
			t.Errorf("MembersByEmail(%q) = %v, %v; want an empty result and no error", addr, keysOf(found), err)
		}
	}
	if tg.SetDown != nil {
		tg.SetDown(true)
		defer tg.SetDown(false)
		if _, err := f.MembersByEmail(ctx, "a@example.org", 10); !errors.Is(err, legacy.ErrUnavailable) {
			t.Errorf("MembersByEmail with the backend down: %v, want legacy.ErrUnavailable", err)
		}
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkRoles checks the roles contract of a returned member.
func checkRoles(t *testing.T, what string, m *legacy.Member, want []string) {
	t.Helper()
	if m.Roles == nil {
		t.Errorf("%s: Roles is nil (every member returned carries its roles, [] when none)", what)
		return
	}
	if want != nil && !slices.Equal(m.Roles, want) {
		t.Errorf("%s: roles %q, want %q", what, m.Roles, want)
	}
	if m.Grants != nil && !slices.Equal(legacy.RolesOf(m.Grants), m.Roles) {
		t.Errorf("%s: grants %v disagree with roles %q", what, m.Grants, m.Roles)
	}
}

func testAuthenticate(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	if len(tg.Members) < 3 {
		t.Fatalf("the target gives %d members; the suite needs at least 3", len(tg.Members))
	}
	for _, a := range tg.Members {
		m, err := tg.Dir.Authenticate(ctx, a.Login, a.Password)
		if err != nil {
			t.Errorf("Authenticate(%s): %v", a.Login, err)
			continue
		}
		if !strings.EqualFold(m.Key, a.Key) || (a.MemberID != "" && m.MemberID != a.MemberID) {
			t.Errorf("Authenticate(%s): key %s member id %s, want %s %s", a.Login, m.Key, m.MemberID, a.Key, a.MemberID)
		}
		checkRoles(t, "Authenticate("+a.Login+")", m, a.Roles)
		if m.Staff != a.Staff {
			t.Errorf("Authenticate(%s): staff %v, want %v", a.Login, m.Staff, a.Staff)
		}
		// Surrounding spaces and case do not matter.
		if m2, err := tg.Dir.Authenticate(ctx, " "+strings.ToUpper(a.Login)+" ", a.Password); err != nil || !strings.EqualFold(m2.Key, a.Key) {
			t.Errorf("Authenticate(%q upper-cased, spaced): %v", a.Login, err)
		}
	}
}

func testIndistinguishable(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	a := tg.Members[0]
	work := func(f func() error) (error, int64) {
		var before int64
		if tg.Work != nil {
			before = tg.Work()
		}
		err := f()
		if tg.Work != nil {
			return err, tg.Work() - before
		}
		return err, 0
	}
	errWrong, wWrong := work(func() error { _, err := tg.Dir.Authenticate(ctx, a.Login, a.Password+"x"); return err })
	errUnknown, wUnknown := work(func() error {
		_, err := tg.Dir.Authenticate(ctx, "no-such-login-"+a.Login, a.Password)
		return err
	})
	if !errors.Is(errWrong, legacy.ErrBadCredentials) || !errors.Is(errUnknown, legacy.ErrBadCredentials) {
		t.Fatalf("wrong password: %v; unknown login: %v; want ErrBadCredentials for both", errWrong, errUnknown)
	}
	if errWrong.Error() != errUnknown.Error() {
		t.Errorf("messages differ: wrong password %q, unknown login %q", errWrong, errUnknown)
	}
	if tg.Work != nil && (wWrong != wUnknown || wWrong == 0) {
		t.Errorf("password verifications: wrong password %d, unknown login %d (want the same, non-zero)", wWrong, wUnknown)
	}
	for _, r := range tg.Refused {
		if beforePassword[r.Reason] {
			continue // refused whatever the password (testLockedOut)
		}
		err, w := work(func() error { _, err := tg.Dir.Authenticate(ctx, r.Login, r.Password+"x"); return err })
		if !errors.Is(err, legacy.ErrBadCredentials) || err.Error() != errUnknown.Error() {
			t.Errorf("%s with a wrong password: %v, want the unknown-login error %q", r.Login, err, errUnknown)
		}
		if tg.Work != nil && w != wUnknown {
			t.Errorf("%s with a wrong password: %d verifications, unknown login %d", r.Login, w, wUnknown)
		}
	}
}

// beforePassword are the reasons of the refusals the AMS answers before it compares any
// password (legacy.Standing.BeforePassword): a locked-out account (legacy.ErrLockedOut) and
// one not approved (legacy.ErrNotApproved).
var beforePassword = map[string]bool{legacy.Reason(legacy.ErrLockedOut): true, legacy.Reason(legacy.ErrNotApproved): true}

// testLockedOut (review s19 X19-4, review s20 Y-1): a locked-out account, and one not
// approved, is refused whatever the password, as the AMS refuses it before comparing any
// (legacy.Standing.BeforePassword): the right password and wrong ones get the same error, and
// cost the verification work of an unknown login, so that whoever guesses at the account
// (which iMIS locks out, or for an unapproved one never even counts) cannot learn through the
// directory when the password is right.
func testLockedOut(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	work := func(login, pw string) (error, int64) {
		var before int64
		if tg.Work != nil {
			before = tg.Work()
		}
		_, err := tg.Dir.Authenticate(ctx, login, pw)
		if tg.Work != nil {
			return err, tg.Work() - before
		}
		return err, 0
	}
	n := 0
	for _, r := range tg.Refused {
		if !beforePassword[r.Reason] {
			continue
		}
		n++
		_, wUnknown := work("no-such-login-"+r.Login, r.Password)
		errRight, wRight := work(r.Login, r.Password)
		if legacy.Reason(errRight) != r.Reason {
			t.Errorf("%s with the right password: %v, want %s", r.Login, errRight, r.Reason)
			continue
		}
		for _, pw := range []string{r.Password + "x", "x" + r.Password, strings.ToUpper(r.Password)} {
			err, w := work(r.Login, pw)
			if err == nil || err.Error() != errRight.Error() {
				t.Errorf("%s: a wrong password answers %v, the right one %v: the %s refusal tells a right password from a wrong one", r.Login, err, errRight, r.Reason)
			}
			if tg.Work != nil && (w != wRight || w != wUnknown) {
				t.Errorf("%s: password verifications: wrong password %d, right password %d, unknown login %d (want the same)", r.Login, w, wRight, wUnknown)
			}
		}
	}
	if n == 0 {
		t.Skip("the target gives no locked-out or unapproved account")
	}
}

func testStatus(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	if len(tg.Refused) == 0 {
		t.Skip("the target gives no refused account")
	}
	for _, r := range tg.Refused {
		_, err := tg.Dir.Authenticate(ctx, r.Login, r.Password)
		if err == nil || legacy.Reason(err) != r.Reason {
			t.Errorf("%s with the right password: %v (%s), want %s", r.Login, err, legacy.Reason(err), r.Reason)
		}
	}
}

func testLookups(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	for _, a := range tg.Members {
		byLogin, err := tg.Dir.MemberByLogin(ctx, a.Login)
		if err != nil {
			t.Errorf("MemberByLogin(%s): %v", a.Login, err)
			continue
		}
		checkRoles(t, "MemberByLogin("+a.Login+")", byLogin, a.Roles)
		for i := 0; i < 2; i++ { // twice: a cache answers the second
			byKey, err := tg.Dir.MemberByKey(ctx, a.Key)
			if err != nil || !strings.EqualFold(byKey.Key, a.Key) {
				t.Errorf("MemberByKey(%s): %v", a.Key, err)
				continue
			}
			checkRoles(t, "MemberByKey("+a.Login+")", byKey, a.Roles)
			if byKey.Staff != a.Staff {
				t.Errorf("MemberByKey(%s): staff %v, want %v", a.Login, byKey.Staff, a.Staff)
			}
		}
		if a.MemberID != "" {
			byID, err := tg.Dir.MemberByID(ctx, a.MemberID)
			if err != nil || !strings.EqualFold(byID.Key, a.Key) {
				t.Errorf("MemberByID(%s): %v", a.MemberID, err)
			} else {
				checkRoles(t, "MemberByID("+a.Login+")", byID, a.Roles)
			}
		}
		roles, err := tg.Dir.Roles(ctx, a.Key)
		if err != nil || roles == nil || (a.Roles != nil && !slices.Equal(roles, a.Roles)) {
			t.Errorf("Roles(%s) = %q, %v; want %q", a.Login, roles, err, a.Roles)
		}
		if f, ok := tg.Dir.(freshReader); ok {
			fresh, err := f.FreshMemberByKey(ctx, a.Key)
			if err != nil || !strings.EqualFold(fresh.Key, a.Key) {
				t.Errorf("FreshMemberByKey(%s): %v", a.Key, err)
				continue
			}
			checkRoles(t, "FreshMemberByKey("+a.Login+")", fresh, a.Roles)
			if fresh.Login != byLogin.Login || fresh.MemberID != byLogin.MemberID || fresh.FullName != byLogin.FullName ||
				fresh.Email != byLogin.Email || fresh.Staff != byLogin.Staff || fresh.Standing != byLogin.Standing {
				t.Errorf("FreshMemberByKey(%s) = %+v; MemberByLogin read %+v of the same rows", a.Login, fresh, byLogin)
			}
		}
	}
}

// freshReader is a directory with a read that confirms a deactivation (sqldir's committed
// read, the cache's read past itself). On data nobody is changing it answers as MemberByKey
// does, and it is never answered by a cache: with the AMS away it fails.
type freshReader interface {
	FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error)
}

func testNotFound(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	const unknownKey = "0BADC0DE-0000-4000-8000-00000000DEAD"
	if _, err := tg.Dir.MemberByLogin(ctx, "no-such-login"); !errors.Is(err, legacy.ErrNotFound) {
		t.Errorf("MemberByLogin(unknown): %v", err)
	}
	if _, err := tg.Dir.MemberByKey(ctx, unknownKey); !errors.Is(err, legacy.ErrNotFound) {
		t.Errorf("MemberByKey(unknown): %v", err)
	}
	if _, err := tg.Dir.MemberByID(ctx, "no-such-id"); !errors.Is(err, legacy.ErrNotFound) {
		t.Errorf("MemberByID(unknown): %v", err)
	}
	if f, ok := tg.Dir.(freshReader); ok {
		if _, err := f.FreshMemberByKey(ctx, unknownKey); !errors.Is(err, legacy.ErrNotFound) {
			t.Errorf("FreshMemberByKey(unknown): %v", err)
		}
	}
}

func testUnavailable(t *testing.T, tg *Target) {
	if tg.SetDown == nil {
		t.Skip("the target cannot be made unavailable")
	}
	ctx := ctxFor(t)
	a := tg.Members[0]
	// A cache may answer lookups it holds: ask for members it has not seen, except the read
	// that confirms a deactivation, which a cache must never answer.
	f, fresh := tg.Dir.(freshReader)
	if fresh {
		if _, err := tg.Dir.MemberByKey(ctx, a.Key); err != nil {
			t.Fatalf("MemberByKey(%s): %v", a.Key, err)
		}
	}
	hasClock := false // a directory with a clock to read (not legacy.ErrNoClock)
	if c, ok := tg.Dir.(legacy.ClockReader); ok {
		_, err := c.DatabaseNow(ctx)
		hasClock = !errors.Is(err, legacy.ErrNoClock)
	}
	tg.SetDown(true)
	checks := map[string]error{}
	if fresh {
		_, checks["FreshMemberByKey"] = f.FreshMemberByKey(ctx, a.Key)
	}
	_, checks["Authenticate"] = tg.Dir.Authenticate(ctx, a.Login, a.Password)
	_, checks["Authenticate(unknown)"] = tg.Dir.Authenticate(ctx, "no-such-login", "pw-1")
	_, checks["MemberByLogin"] = tg.Dir.MemberByLogin(ctx, tg.Members[1].Login)
	_, checks["MemberByKey"] = tg.Dir.MemberByKey(ctx, tg.Members[2].Key)
	_, checks["MemberByID"] = tg.Dir.MemberByID(ctx, "no-such-id")
	_, _, checks["ChangedSince"] = tg.Dir.ChangedSince(ctx, time.Time{}, 5)
	_, checks["ListMembers"] = tg.Dir.ListMembers(ctx, "", 5)
	checks["Ping"] = tg.Dir.Ping(ctx)
	if c, ok := tg.Dir.(legacy.ClockReader); ok && hasClock {
		_, checks["DatabaseNow"] = c.DatabaseNow(ctx)
	}
	for op, err := range checks {
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Errorf("%s while unavailable: %v, want ErrUnavailable", op, err)
		}
		if errors.Is(err, legacy.ErrBadCredentials) || errors.Is(err, legacy.ErrNotFound) {
			t.Errorf("%s while unavailable: %v looks like a wrong login or an unknown member", op, err)
		}
	}
	tg.SetDown(false)
	if _, err := tg.Dir.Authenticate(ctx, a.Login, a.Password); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if err := tg.Dir.Ping(ctx); err != nil {
		t.Fatalf("Ping after recovery: %v", err)
	}
}

func testChangedSince(t *testing.T, tg *Target) {
	if tg.Touch == nil {
		t.Skip("the target cannot set change times")
	}
	ctx := ctxFor(t)
	base := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	t1, t2 := base.Add(time.Hour), base.Add(2*time.Hour)
	a, b, c := tg.Members[0], tg.Members[1], tg.Members[2]
	for _, x := range []struct {
		login string
		at    time.Time
	}{{a.Login, t1}, {b.Login, t2}, {c.Login, t2}} {
		if err := tg.Touch(ctx, x.login, x.at); err != nil {
			t.Fatal(err)
		}
	}
	// A page of 2 would split the t2 group: only a comes back, and the watermark is t1.
	ms, next, err := tg.Dir.ChangedSince(ctx, base, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !strings.EqualFold(ms[0].Key, a.Key) || !next.Equal(t1) || !ms[0].UpdatedAt.Equal(t1) {
		t.Fatalf("first page: %s, next %v; want only %s changed at %v", keysOf(ms), next, a.Login, t1)
	}
	checkRoles(t, "ChangedSince", ms[0], a.Roles)
	ms, next, err = tg.Dir.ChangedSince(ctx, next, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strings.ToUpper(b.Key), strings.ToUpper(c.Key)}
	slices.Sort(want)
	if got := keysOf(ms); !slices.Equal(got, want) || !next.Equal(t2) {
		t.Fatalf("second page: %v, next %v; want %v (by key), next %v", got, next, want, t2)
	}
	for _, m := range ms {
		checkRoles(t, "ChangedSince", m, nil)
		if !m.UpdatedAt.Equal(t2) {
			t.Errorf("%s: UpdatedAt %v, want %v", m.Login, m.UpdatedAt, t2)
		}
	}
	// A page of one whose time a whole group shares returns the whole group.
	ms, _, err = tg.Dir.ChangedSince(ctx, t1, 1)
	if err != nil || len(ms) != 2 {
		t.Fatalf("page of 1 on a tie: %v, %v; want both members of the tie", keysOf(ms), err)
	}
	ms, next2, err := tg.Dir.ChangedSince(ctx, next, 10)
	if err != nil || len(ms) != 0 || !next2.Equal(next) {
		t.Fatalf("after the last change: %v, next %v, %v", keysOf(ms), next2, err)
	}
}

func keysOf(ms []*legacy.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(m.Key)
	}
	return out
}

func testListMembers(t *testing.T, tg *Target) {
	ctx := ctxFor(t)
	seen := map[string]int{}
	after := ""
	for i := 0; ; i++ {
		if i > 10_000 {
			t.Fatal("ListMembers never ends")
		}
		page, err := tg.Dir.ListMembers(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d members with limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			k := strings.ToUpper(m.Key)
			if k <= strings.ToUpper(after) {
				t.Fatalf("key %s does not sort after %s", k, after)
			}
			after = m.Key
			seen[k]++
			checkRoles(t, "ListMembers", m, nil)
		}
	}
	for _, a := range tg.Members {
		if seen[strings.ToUpper(a.Key)] != 1 {
			t.Errorf("%s listed %d times, want once", a.Login, seen[strings.ToUpper(a.Key)])
		}
	}
	for _, r := range tg.Refused {
		if r.Reason != "not_member" {
			continue
		}
		if m, err := tg.Dir.MemberByLogin(ctx, r.Login); err == nil && seen[strings.ToUpper(m.Key)] != 0 {
			t.Errorf("deleted contact %s is listed", r.Login)
		}
	}
	// The listing's members are those of MemberByKey, roles included.
	for _, a := range tg.Members {
		page, err := tg.Dir.ListMembers(ctx, "", 10_000)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(page, func(m *legacy.Member) bool { return strings.EqualFold(m.Key, a.Key) })
		if i < 0 {
			t.Errorf("%s missing from one big page", a.Login)
			continue
		}
		checkRoles(t, "ListMembers("+a.Login+")", page[i], a.Roles)
	}
}
