package sqldir_test

import (
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
)

// TestUnreadableMemberRowNotTold (review s15 X): a member whose row holds a value the directory
// cannot read (a date column with text in it, a flag that is not a boolean, a password format
// that is not a number: hand-edited data, another AMS's schema through custom queries) was
// answered, for any password, as the AMS being unavailable (503, "The membership system cannot
// be reached right now"), while an unknown login is answered as a wrong password (401): the
// answer told that the login exists. The row must still never sign in (fail closed), and the
// operator must still learn of it (logged), but the answer must be an unknown login's.
func TestUnreadableMemberRowNotTold(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"effective date", `UPDATE UserMain SET EffectiveDate = 'soon' WHERE LOWER(UserId) = 'alice'`},
		{"disabled flag", `UPDATE UserMain SET IsDisabled = 'perhaps' WHERE LOWER(UserId) = 'alice'`},
		{"password format", `UPDATE aspnet_Membership SET PasswordFormat = 'Hashed'
			WHERE UserId = (SELECT UserId FROM aspnet_Users WHERE LoweredUserName = 'alice')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDemo(t)
			if _, err := db.ExecContext(ctx, tc.sql); err != nil {
				t.Fatal(err)
			}
			_, unknown := d.Authenticate(ctx, "nobody-here", "alice-demo-1")
			if !errors.Is(unknown, legacy.ErrBadCredentials) {
				t.Fatalf("unknown login: %v", unknown)
			}
			for _, pw := range []string{"wrong", "alice-demo-1"} {
				m, err := d.Authenticate(ctx, "alice", pw)
				if m != nil {
					t.Fatalf("password %q: signed in with an unreadable row", pw)
				}
				if errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, legacy.ErrBadCredentials) {
					t.Errorf("password %q: %v (reason %s); an unknown login gets %v (reason %s)", pw, err, legacy.Reason(err),
						unknown, legacy.Reason(unknown))
				}
			}
		})
	}
}
