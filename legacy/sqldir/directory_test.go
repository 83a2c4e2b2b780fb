package sqldir_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/internal/benchcpu"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

var ctx = context.Background()

// countingVerifier counts password verifications (the timing-equalisation tests count calls
// rather than measuring time).
type countingVerifier struct {
	next  sqldir.PasswordVerifier
	calls atomic.Int64
}

func (c *countingVerifier) Verify(format int, stored, salt, pw string) (bool, error) {
	c.calls.Add(1)
	return c.next.Verify(format, stored, salt, pw)
}

func openDemo(t testing.TB, opts ...sqldir.Option) (*sqldir.Directory, *sql.DB) {
	t.Helper()
	opts = append([]sqldir.Option{sqldir.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	d, db, err := demo.OpenDirectory(ctx, "", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, db
}

func withQueries(t testing.TB, queries map[string]string, opts ...sqldir.Option) *sqldir.Directory {
	t.Helper()
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := demo.SQLConfig()
	cfg.Queries = queries
	d, err := sqldir.New(db, cfg, append(opts, sqldir.WithOwnedDB())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func login(t testing.TB, name string) demo.Login {
	for _, l := range demo.Logins() {
		if l.Login == name {
			return l
		}
	}
	t.Fatalf("no demo login %q", name)
	return demo.Login{}
}

func TestDemoLoginsGiveTheirOutcome(t *testing.T) {
	d, _ := openDemo(t)
	logins := demo.Logins()
	if len(logins) < 10 {
		t.Fatalf("only %d demo logins", len(logins))
	}
	seen := map[string]bool{}
	for _, l := range logins {
		t.Run(l.Login, func(t *testing.T) {
			m, err := d.Authenticate(ctx, l.Login, l.Password)
			if got := legacy.Reason(err); got != l.Outcome {
				t.Fatalf("Authenticate(%q) = %v (%s), want %s", l.Login, err, got, l.Outcome)
			}
			seen[l.Outcome] = true
			if err != nil {
				if m != nil {
					t.Fatal("member returned with an error")
				}
				return
			}
			if m.Key != l.Key || m.MemberID != l.MemberID || m.Roles == nil {
				t.Fatalf("member = %+v", m)
			}
			if m.EmailUnique {
				t.Fatal("iMIS e-mails are not unique")
			}
		})
	}
	for _, want := range []string{"ok", "bad_credentials", "disabled", "locked_out", "not_approved", "account_expired", "password_expired", "not_member", "unsupported_hash"} {
		if !seen[want] {
			t.Errorf("no demo login exercises %s", want)
		}
	}
}

func TestDemoMemberProfiles(t *testing.T) {
	d, _ := openDemo(t)
	now := time.Now()
	alice, err := d.Authenticate(ctx, "alice", "alice-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if alice.GivenName != "Alice" || alice.FamilyName != "Anders" || alice.FullName != "Alice Anders" ||
		alice.Company != "Example Widgets Ltd" || alice.MemberType != "REG" || alice.Status != "A" ||
		alice.Email != "alice.anders@demo.example" || alice.Login != "alice" {
		t.Errorf("alice = %+v", alice)
	}
	if !alice.IsCurrent(now) || alice.JoinDate.IsZero() || alice.UpdatedAt.IsZero() {
		t.Errorf("alice dates: paid %v join %v updated %v", alice.PaidThrough, alice.JoinDate, alice.UpdatedAt)
	}
	if want := []string{"Board of Directors", "Member", "REG", "Regular Member"}; !slices.Equal(alice.Roles, want) {
		t.Errorf("alice roles = %v, want %v (the Board role is marked for delete; the Finance Committee was dropped, the Awards Committee starts later)", alice.Roles, want)
	}
	if alice.Extra["chapter"] != "NORTH" || alice.Extra["city"] != "Leeds" {
		t.Errorf("alice extra = %v", alice.Extra)
	}
	staff, err := d.Authenticate(ctx, "STAFF", "staff-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"All Staff", "Content Administrator", "CustomerLevel1", "CustomerLevel2", "RemoteService", "STAFF", "Staff", "SysAdmin"}; !slices.Equal(staff.Roles, want) || !staff.Staff {
		t.Errorf("staff roles = %v, want %v (a UserRole row marked for delete and the system Everyone role are left out); staff %v", staff.Roles, want, staff.Staff)
	}
	larry, err := d.Authenticate(ctx, "larry", "larry-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if larry.IsCurrent(now) || larry.PaidThrough.IsZero() {
		t.Errorf("larry should be lapsed: paid through %v", larry.PaidThrough)
	}
	zoe, err := d.Authenticate(ctx, "zoë", "zoe-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if zoe.FullName != "José Müller" || zoe.Extra["city"] != "Zürich" {
		t.Errorf("zoë = %+v", zoe)
	}
	if _, off := zoe.PaidThrough.Zone(); off != int(demo.AppTimeOffset/time.Second) || zoe.PaidThrough.Hour() != 0 {
		t.Errorf("paid-through not read in the demo's application clock: %v", zoe.PaidThrough)
	}
}

func TestWrongPasswordNeverRevealsStatus(t *testing.T) {
	d, _ := openDemo(t)
	for _, l := range demo.Logins() {
		_, err := d.Authenticate(ctx, l.Login, l.Password+"x")
		want := legacy.ErrBadCredentials
		switch l.Outcome {
		case "unsupported_hash":
			want = legacy.ErrUnsupportedHash // fails closed whatever the password
		case "locked_out":
			want = legacy.ErrLockedOut // whatever the password, as iMIS (review s19 X19-4)
		case "not_approved":
			want = legacy.ErrNotApproved // whatever the password, as iMIS (review s20 Y-1)
		}
		if !errors.Is(err, want) {
			t.Errorf("%s with a wrong password: %v, want %v", l.Login, err, want)
		}
	}
}

func TestInputHygiene(t *testing.T) {
	d, _ := openDemo(t)
	for _, tc := range []struct {
		name, login, pw string
		ok              bool
	}{
		{"upper case", "ALICE", "alice-demo-1", true},
		{"spaces trimmed", "  alice\t", "alice-demo-1", true},
		{"NFC decomposed", "zoe\u0308", "zoe-demo-1", true},
		{"NFC upper", "ZOË", "zoe-demo-1", true},
		{"quote injection", "alice' OR '1'='1", "alice-demo-1", false},
		{"comment injection", "alice'; DROP TABLE UserMain; --", "x", false},
		{"like wildcard", "al%", "alice-demo-1", false},
		{"underscore wildcard", "_lice", "alice-demo-1", false},
		{"password injection", "alice", "' OR '1'='1", false},
		{"10k login", strings.Repeat("a", 10_000), "alice-demo-1", false},
		{"257 runes", strings.Repeat("é", 257), "x", false},
		{"empty password", "alice", "", false},
		{"empty login", "", "alice-demo-1", false},
		{"blank login", "   ", "alice-demo-1", false},
		{"invalid UTF-8 login", "alice\xff", "alice-demo-1", false},
		{"invalid UTF-8 password", "alice", "alice-demo-1\xff", false},
		{"NUL in login", "alice\x00", "alice-demo-1", false},
		{"NUL in password", "alice", "alice-demo-1\x00", false},
		{"control char", "ali\x07ce", "alice-demo-1", false},
		{"password too long", "alice", strings.Repeat("p", 2000), false},
		{"look-alike Cyrillic a", "\u0430lice", "alice-demo-1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := d.Authenticate(ctx, tc.login, tc.pw)
			if tc.ok {
				if err != nil || m == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("err = %v, want bad credentials", err)
			}
		})
	}
	// The tables are intact after the injection attempts.
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidInputIsRefusedWithoutQuerying(t *testing.T) {
	cv := &countingVerifier{next: password.Default()}
	d, db := openDemo(t, sqldir.WithVerifier(cv))
	db.Close() // any query now fails with ErrUnavailable
	for _, in := range [][2]string{
		{"alice", ""}, {"", "pw"}, {"alice\xff", "pw"}, {"alice\x00", "pw"}, {strings.Repeat("a", 10_000), "pw"},
		{"alice", "pw\x00"}, {"alice", strings.Repeat("p", 5000)},
	} {
		if _, err := d.Authenticate(ctx, in[0], in[1]); !errors.Is(err, legacy.ErrBadCredentials) {
			t.Errorf("Authenticate(%.20q, %.20q) = %v", in[0], in[1], err)
		}
	}
	if _, err := d.Authenticate(ctx, "alice", "pw"); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("valid input on a closed database: %v", err)
	}
	if cv.calls.Load() != 0 {
		t.Fatalf("verifier called %d times for refused input", cv.calls.Load())
	}
}

func TestUnknownLoginSpendsOneVerification(t *testing.T) {
	cv := &countingVerifier{next: password.Default()}
	d, _ := openDemo(t, sqldir.WithVerifier(cv))
	for _, tc := range []struct {
		login, pw string
		want      error
	}{
		{"nobody", "whatever", legacy.ErrBadCredentials},            // unknown: dummy verification
		{"alice", "wrong", legacy.ErrBadCredentials},                // known: real verification
		{"alice", "alice-demo-1", nil},                              // success
		{"guest", "guest-demo-1", legacy.ErrBadCredentials},         // built-in: refused, dummy verification
		{"SYSTEM", "x", legacy.ErrBadCredentials},                   // built-in
		{"olga", "olga-demo-1", legacy.ErrLockedOut},                // locked: whatever the password
		{"olga", "wrong", legacy.ErrLockedOut},                      // (dummy verification, X19-4)
		{"al' OR 1=1 --", "alice-demo-1", legacy.ErrBadCredentials}, // just an unknown login
	} {
		before := cv.calls.Load()
		_, err := d.Authenticate(ctx, tc.login, tc.pw)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Authenticate(%q) = %v, want %v", tc.login, err, tc.want)
		}
		if n := cv.calls.Load() - before; n != 1 {
			t.Errorf("Authenticate(%q) verified %d times, want exactly 1", tc.login, n)
		}
	}
}

func TestDummyVerificationCostsTheSame(t *testing.T) {
	// The dummy hash uses the configured algorithm: for an HMAC site the keyed path runs too.
	for _, alg := range []string{"sha256", "hmacsha256", "sha1"} {
		var formats []string
		rec := recorder(func(format int, stored, salt string) {
			formats = append(formats, password.Default().Describe(format, stored, salt).Scheme)
		})
		db, err := demo.Open(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg := demo.SQLConfig()
		cfg.HashAlgorithm = alg
		d, err := sqldir.New(db, cfg, sqldir.WithVerifier(rec), sqldir.WithOwnedDB())
		if err != nil {
			t.Fatal(err)
		}
		d.Authenticate(ctx, "nobody", "x")
		d.Close()
		want := "membership-" + strings.TrimPrefix(alg, "hmac")
		if len(formats) != 1 || formats[0] != want {
			t.Errorf("%s: dummy verification used %v, want %s", alg, formats, want)
		}
	}
}

type recorder func(format int, stored, salt string)

func (r recorder) Verify(format int, stored, salt, pw string) (bool, error) {
	r(format, stored, salt)
	return false, nil
}

func TestLookups(t *testing.T) {
	d, _ := openDemo(t)
	alice := login(t, "alice")
	for name, get := range map[string]func() (*legacy.Member, error){
		"by login":           func() (*legacy.Member, error) { return d.MemberByLogin(ctx, " Alice ") },
		"by key":             func() (*legacy.Member, error) { return d.MemberByKey(ctx, alice.Key) },
		"by lower-case key":  func() (*legacy.Member, error) { return d.MemberByKey(ctx, strings.ToLower(alice.Key)) },
		"by braced key":      func() (*legacy.Member, error) { return d.MemberByKey(ctx, "{"+alice.Key+"}") },
		"by member id":       func() (*legacy.Member, error) { return d.MemberByID(ctx, alice.MemberID) },
		"by padded memberid": func() (*legacy.Member, error) { return d.MemberByID(ctx, " "+alice.MemberID) },
	} {
		m, err := get()
		if err != nil || m.Key != alice.Key || m.Login != "alice" {
			t.Errorf("%s: %+v, %v", name, m, err)
		}
	}
	// Lookups find members that cannot sign in; Standing says why.
	olga, err := d.MemberByLogin(ctx, "olga")
	if err != nil || !olga.Standing.LockedOut {
		t.Errorf("olga: %+v, %v", olga, err)
	}
	for name, get := range map[string]func() (*legacy.Member, error){
		"unknown login":      func() (*legacy.Member, error) { return d.MemberByLogin(ctx, "nobody") },
		"built-in login":     func() (*legacy.Member, error) { return d.MemberByLogin(ctx, "guest") },
		"built-in by key":    func() (*legacy.Member, error) { return d.MemberByKey(ctx, "8650EB42-3034-471C-B8F2-9E79313E5C95") },
		"unknown key":        func() (*legacy.Member, error) { return d.MemberByKey(ctx, "00000000-0000-0000-0000-000000000000") },
		"malformed key":      func() (*legacy.Member, error) { return d.MemberByKey(ctx, "' OR 1=1 --") },
		"unknown member id":  func() (*legacy.Member, error) { return d.MemberByID(ctx, "99999") },
		"injection id":       func() (*legacy.Member, error) { return d.MemberByID(ctx, "1001' OR '1'='1") },
		"invalid UTF-8 name": func() (*legacy.Member, error) { return d.MemberByLogin(ctx, "\xff") },
	} {
		if m, err := get(); !errors.Is(err, legacy.ErrNotFound) {
			t.Errorf("%s: %+v, %v; want ErrNotFound", name, m, err)
		}
	}
	if r, err := d.Roles(ctx, "not-a-guid"); !errors.Is(err, legacy.ErrNotFound) {
		t.Errorf("Roles(malformed) = %v, %v", r, err)
	}
	if r, err := d.Roles(ctx, "00000000-0000-0000-0000-000000000000"); err != nil || r == nil || len(r) != 0 {
		t.Errorf("Roles(unknown) = %#v, %v; want empty", r, err)
	}
}

func TestChangedSince(t *testing.T) {
	d, db := openDemo(t)
	all, next, err := d.ChangedSince(ctx, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	wantN := 0
	for _, l := range demo.Logins() {
		if l.Outcome != "bad_credentials" {
			wantN++
		}
	}
	if len(all) != wantN {
		t.Fatalf("ChangedSince(zero) = %d members, want %d (built-in accounts excluded)", len(all), wantN)
	}
	for i := 1; i < len(all); i++ {
		if all[i].UpdatedAt.Before(all[i-1].UpdatedAt) {
			t.Fatalf("not ordered: %v after %v", all[i].UpdatedAt, all[i-1].UpdatedAt)
		}
	}
	// The watermark covers the built-in accounts too (they are skipped, not re-read).
	if next.Before(all[len(all)-1].UpdatedAt) {
		t.Fatalf("watermark %v before the last member's change %v", next, all[len(all)-1].UpdatedAt)
	}
	// Nothing changed since the watermark.
	if ms, n2, err := d.ChangedSince(ctx, next, 10); err != nil || len(ms) != 0 || !n2.Equal(next) {
		t.Fatalf("after watermark: %d members, %v, %v", len(ms), n2, err)
	}
	// Paging through in small pages sees everyone exactly once.
	seen := map[string]int{}
	w := time.Time{}
	for i := 0; i < 100; i++ {
		ms, n, err := d.ChangedSince(ctx, w, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			seen[m.Key]++
		}
		w = n
	}
	if len(seen) != wantN {
		t.Fatalf("paging saw %d members, want %d", len(seen), wantN)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("member %s seen %d times", k, n)
		}
	}
	// Changes made through the demo helpers show up, and only they.
	if err := demo.SetRoles(ctx, db, "alice", "Member", "Volunteer"); err != nil {
		t.Fatal(err)
	}
	if err := demo.SetLockedOut(ctx, db, "olga", false); err != nil {
		t.Fatal(err)
	}
	if err := demo.SetPaidThrough(ctx, db, "larry", time.Now().AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	ms, next2, err := d.ChangedSince(ctx, next, 10)
	if err != nil {
		t.Fatal(err)
	}
	var logins []string
	for _, m := range ms {
		logins = append(logins, m.Login)
	}
	slices.Sort(logins) // changes within one millisecond are ordered by key
	if !slices.Equal(logins, []string{"alice", "larry", "olga"}) || !next2.After(next) {
		t.Fatalf("changes = %v (watermark %v → %v)", logins, next, next2)
	}
	if roles, _ := d.Roles(ctx, login(t, "alice").Key); !slices.Equal(roles, []string{"Board of Directors", "Member", "REG", "Regular Member", "Volunteer"}) {
		t.Fatalf("roles after SetRoles = %v", roles)
	}
	if _, err := d.Authenticate(ctx, "olga", "olga-demo-1"); err != nil {
		t.Fatalf("olga after unlock: %v", err)
	}
	if m, _ := d.MemberByLogin(ctx, "larry"); !m.IsCurrent(time.Now()) {
		t.Fatal("larry not current after SetPaidThrough")
	}
	if _, _, err := d.ChangedSince(ctx, time.Time{}, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if err := demo.SetDisabled(ctx, db, "nobody", true); !errors.Is(err, demo.ErrNoSuchLogin) {
		t.Fatalf("helper on unknown login: %v", err)
	}
}

func TestChangedSinceKeepsTiesTogether(t *testing.T) {
	d, db := openDemo(t)
	// UserMain.UpdatedOn is application time (the demo's UTC-06:00); UpdatedAt comes back in UTC.
	t1 := time.Now().Add(time.Hour).UTC().Format("2006-01-02 15:04:05.000")
	t2 := time.Now().Add(2 * time.Hour).UTC().Format("2006-01-02 15:04:05.000")
	app := func(s string) string {
		t, _ := time.Parse("2006-01-02 15:04:05.000", s)
		return t.Add(demo.AppTimeOffset).Format("2006-01-02 15:04:05.000")
	}
	for login, ts := range map[string]string{"alice": t1, "staff": t1, "larry": t2, "sam": t2, "clara": t2} {
		if _, err := db.ExecContext(ctx, `UPDATE UserMain SET UpdatedOn = ?1 WHERE UserId = UPPER(?2)`, app(ts), login); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(30 * time.Minute)
	ms, next, err := d.ChangedSince(ctx, since, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Page of 3 would split the t2 group: only the t1 group is returned.
	if len(ms) != 2 || ms[0].UpdatedAt.UTC().Format("2006-01-02 15:04:05.000") != t1 {
		t.Fatalf("first page = %d members, next %v", len(ms), next)
	}
	ms, _, err = d.ChangedSince(ctx, next, 3)
	if err != nil || len(ms) != 3 {
		t.Fatalf("second page = %d members, %v", len(ms), err)
	}
}

func TestUnavailable(t *testing.T) {
	d, db := openDemo(t)
	db.Close()
	checks := map[string]error{}
	_, checks["Authenticate"] = d.Authenticate(ctx, "alice", "alice-demo-1")
	_, checks["MemberByLogin"] = d.MemberByLogin(ctx, "alice")
	_, checks["MemberByKey"] = d.MemberByKey(ctx, login(t, "alice").Key)
	_, checks["MemberByID"] = d.MemberByID(ctx, "1001")
	_, checks["Roles"] = d.Roles(ctx, login(t, "alice").Key)
	_, _, checks["ChangedSince"] = d.ChangedSince(ctx, time.Time{}, 5)
	checks["Ping"] = d.Ping(ctx)
	for op, err := range checks {
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Errorf("%s on a closed database: %v", op, err)
		}
	}
}

func TestQueryTimeout(t *testing.T) {
	slow := `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)
		SELECT COUNT(*) AS applications FROM c`
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := demo.SQLConfig()
	cfg.QueryTimeout = 50 * time.Millisecond
	cfg.Queries = map[string]string{sqldir.QueryPing: slow}
	d, err := sqldir.New(db, cfg, sqldir.WithOwnedDB())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	err = d.Ping(ctx)
	if !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "interrupt") {
		t.Fatalf("slow query: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout not enforced: %v", time.Since(start))
	}
}

func TestColumnContractViolationFailsClosed(t *testing.T) {
	q := imis.PresetIMISSQLite()[sqldir.QueryMemberByLogin]
	broken := strings.Replace(q, "m.IsLockedOut AS is_locked_out,", "", 1)
	d := withQueries(t, map[string]string{sqldir.QueryMemberByLogin: broken})
	_, err := d.Authenticate(ctx, "alice", "alice-demo-1")
	if !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, sqldir.ErrContract) || !strings.Contains(err.Error(), "is_locked_out") {
		t.Fatalf("missing column: %v", err)
	}
	// NULL standing values take the restrictive meaning.
	nulled := strings.Replace(q, "m.IsApproved AS is_approved", "NULL AS is_approved", 1)
	d = withQueries(t, map[string]string{sqldir.QueryMemberByLogin: nulled})
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); !errors.Is(err, legacy.ErrNotApproved) {
		t.Fatalf("NULL is_approved: %v", err)
	}
	// password_format NULL means hashed.
	nullFormat := strings.Replace(q, "m.PasswordFormat AS password_format", "NULL AS password_format", 1)
	d = withQueries(t, map[string]string{sqldir.QueryMemberByLogin: nullFormat})
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); err != nil {
		t.Fatalf("NULL password_format: %v", err)
	}
}

func TestAmbiguousLoginIsRefused(t *testing.T) {
	q := imis.PresetIMISSQLite()[sqldir.QueryMemberByLogin]
	// a broken join that returns every member for any login
	dup := strings.Replace(q, "AND au.LoweredUserName = ?1", "AND (au.LoweredUserName = ?1 OR au.LoweredUserName = 'staff')", 1)
	var buf bytes.Buffer
	d := withQueries(t, map[string]string{sqldir.QueryMemberByLogin: dup}, sqldir.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if _, err := d.Authenticate(ctx, "Alice", "alice-demo-1"); !errors.Is(err, legacy.ErrBadCredentials) {
		t.Fatalf("ambiguous login: %v", err)
	}
	// The operator learns that the query is broken (and how many rows came back), never the
	// typed login of this failed attempt.
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "matches=2") || strings.Contains(strings.ToLower(out), "alice") {
		t.Fatalf("ambiguous login log line lacks the count or leaks the typed login:\n%s", out)
	}
	// The bridge looks the typed login of a failed sign-in up too (to throttle the member): no
	// log line of the lookup names it either.
	if _, err := d.MemberByLogin(ctx, "Alice"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("ambiguous lookup: %v", err)
	}
	if out := buf.String(); strings.Count(out, "level=WARN") != 2 || strings.Contains(strings.ToLower(out), "alice") {
		t.Fatalf("ambiguous lookup log lines leak the login or are missing:\n%s", out)
	}
}

func TestUnsupportedHashLoggedOncePerMember(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	d, db := openDemo(t, sqldir.WithLogger(log))
	var stored, salt string
	if err := db.QueryRowContext(ctx, `SELECT Password, PasswordSalt FROM aspnet_Membership m JOIN aspnet_Users u ON u.UserId = m.UserId WHERE u.LoweredUserName = 'enzo'`).Scan(&stored, &salt); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := d.Authenticate(ctx, "enzo", "enzo-demo-1"); !errors.Is(err, legacy.ErrUnsupportedHash) {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("logged %d times:\n%s", n, out)
	}
	if !strings.Contains(out, login(t, "enzo").Key) || strings.Contains(out, stored) || strings.Contains(out, salt) || strings.Contains(out, "enzo-demo-1") {
		t.Fatalf("log line leaks or lacks data:\n%s", out)
	}
}

func TestPing(t *testing.T) {
	d, _ := openDemo(t)
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDiagnose(t *testing.T) {
	d, db := openDemo(t)
	var stored, salt string
	if err := db.QueryRowContext(ctx, `SELECT Password, PasswordSalt FROM aspnet_Membership m JOIN aspnet_Users u ON u.UserId = m.UserId WHERE u.LoweredUserName = 'alice'`).Scan(&stored, &salt); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := d.Diagnose(ctx, "Alice", &out); err != nil {
		t.Fatalf("Diagnose(alice) = %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"[ping] ok", "[member_by_login] 1 row", "membership-sha256", "44 characters (32 bytes decoded)",
		"status rules:   pass", "[member_by_key]", "same member", "[roles_by_key] 4 role(s)", "Board of Directors, Member, REG, Regular Member",
		"groups:              Board of Directors", "member_type_groups:  Regular Member", "member_group:        Member", "everyone:            (source off)",
		"staff:               no", "membership:     current", "iMIS app time:", "UTC-06:00, from SystemConfig", "this member included", "no problem found"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, stored) || strings.Contains(text, salt) {
		t.Fatalf("output contains the hash or salt:\n%s", text)
	}

	if _, err := db.ExecContext(ctx, `DELETE FROM ContactMain WHERE ContactKey = ?1`, login(t, "sam").ContactKey); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d     *sqldir.Directory
		login string
		want  []string
	}{
		{d, "olga", []string{"locked_out=yes", "account is locked out"}},
		{d, "nobody", []string{"0 row(s)", "no member has the login", "login chain: no aspnet_Users row has this LoweredUserName"}},
		{d, "sam", []string{"login chain: the UserMain row has no ContactMain row with the same key"}},
		{d, "enzo", []string{"format 2", "encrypted", "cannot be verified"}},
		{d, "guest", []string{"built-in account"}},
		{d, "bad\x00login", []string{"refused before any query"}},
		{withQueries(t, map[string]string{sqldir.QueryMemberByKey: strings.Replace(imis.PresetIMISSQLite()[sqldir.QueryMemberByKey], "JOIN Name AS n", "JOIN NoSuchTable AS n", 1)}),
			"alice", []string{"[member_by_key] failed", "no such table", "a table does not exist"}},
		{withQueries(t, map[string]string{sqldir.QueryRolesByKey: "SELECT 'x' AS rolename"}),
			"alice", []string{"[roles_by_key] failed", "no column named role"}},
	} {
		var out strings.Builder
		err := tc.d.Diagnose(ctx, tc.login, &out)
		if !errors.Is(err, sqldir.ErrDiagnosis) {
			t.Errorf("Diagnose(%q) = %v\n%s", tc.login, err, out.String())
		}
		for _, want := range tc.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("Diagnose(%q) output lacks %q:\n%s", tc.login, want, out.String())
			}
		}
	}
}

// BenchmarkAuthenticate signs in on the demo directory (the load run's AMS): "cached" is the
// bridge's path (the profile cache in front: the member query every time, roles from the
// cache), the others the directory alone.
func BenchmarkAuthenticate(b *testing.B) {
	d, _ := openDemo(b)
	for _, bc := range []struct {
		name  string
		auth  func(ctx context.Context, login, pw string) (*legacy.Member, error)
		login string
		pw    string
		fails bool
	}{
		{"ok", d.Authenticate, "alice", "alice-demo-1", false},
		{"ok-without-roles", d.AuthenticateWithoutRoles, "alice", "alice-demo-1", false},
		{"cached", cache.New(d, cache.Options{TTL: time.Hour}).Authenticate, "alice", "alice-demo-1", false},
		{"wrong-password", d.Authenticate, "alice", "nope", true},
		{"unknown-login", d.Authenticate, "nobody", "nope", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := benchcpu.Start()
			for b.Loop() {
				_, err := bc.auth(ctx, bc.login, bc.pw)
				if bc.fails != (err != nil) || bc.fails && !errors.Is(err, legacy.ErrBadCredentials) {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	}
}

// FuzzAuthenticate: whatever the input, Authenticate answers with a member or a typed
// failure, never panics, and only signs in demo logins with their password.
func FuzzAuthenticate(f *testing.F) {
	for _, l := range demo.Logins() {
		f.Add(l.Login, l.Password)
	}
	f.Add("alice' OR '1'='1", "x")
	f.Add("zoe\u0308", "zoe-demo-1")
	f.Add("\x00", "\xff")
	d, _ := openDemo(f)
	passwords := map[string]string{}
	for _, l := range demo.Logins() {
		passwords[l.Key] = l.Password
	}
	f.Fuzz(func(t *testing.T, login, pw string) {
		m, err := d.Authenticate(ctx, login, pw)
		if err != nil {
			if legacy.Reason(err) == "error" || errors.Is(err, legacy.ErrUnavailable) || m != nil {
				t.Fatalf("Authenticate(%q, %q) = %v, %v", login, pw, m, err)
			}
			return
		}
		if passwords[m.Key] != pw {
			t.Fatalf("Authenticate(%q, %q) signed in %s", login, pw, m.Key)
		}
	})
}
