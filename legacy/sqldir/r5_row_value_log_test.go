package sqldir_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestRowValueFaultLogsNoValue (review s27 R5-5): a sign-in refused because the member's row
// holds a value of the wrong kind is logged with the query, the member's key (when the key can
// be read), the column and the kind it wants, but never the value: booleans, datetimes and
// keys of a member's row are that member's data. The lookups' errors, which the bridge logs,
// carry no value either. `legacy check --login` still shows the value on the operator's
// terminal.
func TestRowValueFaultLogsNoValue(t *testing.T) {
	const bad = "zebra-4711-value"
	alice := login(t, "alice")
	aliceRow := `(SELECT UserId FROM aspnet_Users WHERE LoweredUserName = 'alice')`
	byLogin := imis.PresetIMISSQLite()[sqldir.QueryMemberByLogin]
	for _, tc := range []struct {
		name string
		// sql edits alice's data; query, when set, is the member_by_login used instead.
		sql, query string
		column     string
		// key: the log names alice's key (false: the key is what cannot be read).
		key bool
		// lookup: member_by_login's lookup (MemberByLogin, no password columns) reads the column.
		lookup bool
		// pw: the passwords whose sign-in logs the fault (before the password: any).
		pw []string
	}{
		{name: "approved flag", sql: `UPDATE aspnet_Membership SET IsApproved = '` + bad + `' WHERE UserId = ` + aliceRow,
			column: "is_approved", key: true, lookup: true, pw: []string{"wrong", "alice-demo-1"}},
		{name: "locked-out flag", sql: `UPDATE aspnet_Membership SET IsLockedOut = '` + bad + `' WHERE UserId = ` + aliceRow,
			column: "is_locked_out", key: true, lookup: true, pw: []string{"wrong", "alice-demo-1"}},
		{name: "password format", sql: `UPDATE aspnet_Membership SET PasswordFormat = '` + bad + `' WHERE UserId = ` + aliceRow,
			column: "password_format", key: true, pw: []string{"wrong", "alice-demo-1"}},
		{name: "effective date", sql: `UPDATE UserMain SET EffectiveDate = '` + bad + `' WHERE LOWER(UserId) = 'alice'`,
			column: "effective_date", key: true, lookup: true, pw: []string{"alice-demo-1"}},
		{name: "disabled flag", sql: `UPDATE UserMain SET IsDisabled = '` + bad + `' WHERE LOWER(UserId) = 'alice'`,
			column: "is_disabled", key: true, lookup: true, pw: []string{"alice-demo-1"}},
		{name: "key", query: strings.Replace(byLogin, "um.ProviderKey AS user_key,", "'"+bad+"' AS user_key,", 1),
			column: "user_key", lookup: true, pw: []string{"alice-demo-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := sqldir.WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))
			var d *sqldir.Directory
			if tc.query != "" {
				if tc.query == byLogin {
					t.Fatal("the key column of member_by_login was not replaced")
				}
				d = withQueries(t, map[string]string{sqldir.QueryMemberByLogin: tc.query}, logger)
			} else {
				dd, sqlDB := openDemo(t, logger)
				if _, err := sqlDB.ExecContext(ctx, tc.sql); err != nil {
					t.Fatal(err)
				}
				d = dd
			}
			for _, pw := range tc.pw {
				buf.Reset()
				m, err := d.Authenticate(ctx, "alice", pw)
				if m != nil || !errors.Is(err, legacy.ErrBadCredentials) {
					t.Fatalf("password %q: %v, member %v; want an unknown login's answer", pw, err, m != nil)
				}
				out := buf.String()
				if strings.Contains(out, bad) {
					t.Errorf("password %q: the log quotes the row's value %q:\n%s", pw, bad, out)
				}
				want := []string{"level=ERROR", "query=" + sqldir.QueryMemberByLogin, "column=" + tc.column, "want="}
				if tc.key {
					want = append(want, "member_key="+alice.Key)
				} else if strings.Contains(out, "member_key=") {
					t.Errorf("password %q: a key that cannot be read is logged as a member key:\n%s", pw, out)
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("password %q: the log lacks %q:\n%s", pw, w, out)
					}
				}
			}
			// The lookups' errors (which the bridge's callers log) carry no value either.
			if tc.lookup {
				_, err := d.MemberByLogin(ctx, "alice")
				if !errors.Is(err, legacy.ErrContract) {
					t.Fatalf("MemberByLogin: %v; want a contract fault", err)
				}
				if strings.Contains(err.Error(), bad) {
					t.Errorf("MemberByLogin's error quotes the row's value: %v", err)
				}
			}
			// The operator's own terminal shows it.
			var diag strings.Builder
			_ = d.Diagnose(ctx, "alice", &diag)
			if !strings.Contains(diag.String(), bad) || !strings.Contains(diag.String(), tc.column) {
				t.Errorf("legacy check does not show the column and its value:\n%s", diag.String())
			}
		})
	}
}
