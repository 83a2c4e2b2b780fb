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

// TestAMSSecondFactorRead (review s15 X-6): iMIS keeps a user's multi-factor enrolment in
// UserMain.MultiFactorInfo (imis-schema.md: a read-only bridge "bypasses iMIS multi-factor
// authentication ... Refuse users with MultiFactorInfo set if the site requires MFA"). The
// preset read nothing of it, so a member whom iMIS signs in only with a second factor signed in
// at the bridge with the password alone. The member now says so (Member.SecondFactor), on every
// lookup, for the bridge's second-factor policy (bridge/mfa Required: ReasonAMS).
func TestAMSSecondFactorRead(t *testing.T) {
	d, db := openDemo(t)
	m, err := d.Authenticate(ctx, "alice", "alice-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.SecondFactor {
		t.Fatal("alice has no multi-factor enrolment in the AMS and is marked as having one")
	}
	if _, err := db.ExecContext(ctx, `UPDATE UserMain SET MultiFactorInfo = 'AQIDBAUGBwgJ-sealed-totp-secret' WHERE LOWER(UserId) = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if m, err = d.Authenticate(ctx, "alice", "alice-demo-1"); err != nil {
		t.Fatal(err)
	}
	if !m.SecondFactor {
		t.Error("alice, enrolled in iMIS multi-factor authentication, signs in with her password alone: nothing marks a second factor as due")
	}
	if m, err = d.MemberByLogin(ctx, "alice"); err != nil || !m.SecondFactor {
		t.Errorf("MemberByLogin: %v, SecondFactor %v (the refresh and hand-off paths read the member this way)", err, m != nil && m.SecondFactor)
	}
	if _, err := db.ExecContext(ctx, `UPDATE UserMain SET MultiFactorInfo = '' WHERE LOWER(UserId) = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if m, err = d.Authenticate(ctx, "alice", "alice-demo-1"); err != nil || m.SecondFactor {
		t.Errorf("an empty MultiFactorInfo: %v, SecondFactor %v", err, m != nil && m.SecondFactor)
	}
}
