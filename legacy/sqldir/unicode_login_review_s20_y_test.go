package sqldir_test

import (
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestLoginOutsideTheCodePage (review s20 Y-3): iMIS keeps the login twice, in
// aspnet_Users.UserName (nvarchar) and in UserMain.UserId (varchar, Windows-1252 under SQL
// Server's default collation), and signs in by the aspnet user id without comparing the two.
// A member whose login has characters the code page lacks (a Chinese or Polish name) has
// '?' (or a best-fit letter) for them in UserMain.UserId: iMIS signs them in, and so must the
// bridge, through go-mssqldb against the fake TDS server that stores varchar as SQL Server
// does. A UserMain.UserId that is another login is still refused.
func TestLoginOutsideTheCodePage(t *testing.T) {
	for _, tc := range []struct {
		name, login, userMain string
		signsIn               bool
	}{
		{"chinese", "张伟", "张伟", true},        // stored as '??' by the varchar column
		{"polish", "Łukasz", "Lukasz", true}, // SQL Server's best fit for Ł
		{"polish, unmapped", "Łukasz", "Łukasz", true},
		{"another login", "张伟", "BOB", false},
		{"one more character", "张伟", "张伟明", false},
		{"ascii differs", "张wei", "张wxi", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := tdsDemoTarget(t, func(d *sqldir.Directory) *directorytest.Target { return &directorytest.Target{Dir: d} })
			if err := lastFake.Exec(`UPDATE dbo.aspnet_Users SET UserName = @p1, LoweredUserName = LOWER(@p1) WHERE LoweredUserName = N'alice';
				UPDATE dbo.UserMain SET UserId = @p2 WHERE UserId = 'ALICE'`, tc.login, tc.userMain); err != nil {
				t.Fatal(err)
			}
			m, err := tg.Dir.Authenticate(ctx, tc.login, "alice-demo-1")
			switch {
			case tc.signsIn && err != nil:
				t.Fatalf("Authenticate(%q) with UserMain.UserId written %q: %v; iMIS signs this member in", tc.login, tc.userMain, err)
			case tc.signsIn && m.Login != tc.login:
				t.Fatalf("login %q, want %q", m.Login, tc.login)
			case !tc.signsIn && !errors.Is(err, legacy.ErrBadCredentials):
				t.Fatalf("Authenticate(%q) with UserMain.UserId %q: %v, want refused", tc.login, tc.userMain, err)
			}
		})
	}
}

func TestSameAMSLogin(t *testing.T) {
	for _, tc := range []struct {
		ams, login string
		want       bool
	}{
		{"ALICE", "alice", true},
		{"ZOË", "zoë", true},
		{"??", "张伟", true},
		{"?", "张伟", false},
		{"???", "张伟", false},
		{"Lukasz", "Łukasz", true},
		{"?ukasz", "Łukasz", true},
		{"LUKASZ", "łukasz", true},
		{"Jose", "José", true},    // a code page without é writes its base letter
		{"Jos?", "José", true},    // or '?'
		{"Josx", "José", false},   // not another letter
		{"?lice", "alice", false}, // ASCII is kept by every code page
		{"BOB", "alice", false},
		{"", "alice", false},
	} {
		if got := sqldir.SameAMSLogin(tc.ams, tc.login); got != tc.want {
			t.Errorf("SameAMSLogin(%q, %q) = %v, want %v", tc.ams, tc.login, got, tc.want)
		}
	}
}
