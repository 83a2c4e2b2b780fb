package sqldir_test

import (
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestSignInReadsTheLoginColumnsOnce (closing-s19, work done twice): a sign-in reads a
// member's login columns (login, the AMS's copy of it, lockout, approval) once, for its login
// row before the password and for the member after it, instead of reading them again when it
// decodes the member; every other path reads them once per row as well.
func TestSignInReadsTheLoginColumnsOnce(t *testing.T) {
	d, _ := openDemo(t)
	reads := sqldir.CountLoginReads(d)
	decodes := sqldir.CountDecodes(d)
	for _, tc := range []struct {
		name           string
		do             func() error
		reads, decodes int64
	}{
		{"right password", func() error { _, err := d.AuthenticateWithoutRoles(ctx, "alice", "alice-demo-1"); return err }, 1, 1},
		{"right password, with roles", func() error { _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); return err }, 1, 1},
		{"wrong password", func() error {
			if _, err := d.Authenticate(ctx, "alice", "nope"); !errors.Is(err, legacy.ErrBadCredentials) {
				return err
			}
			return nil
		}, 1, 0},
		{"locked out", func() error {
			if _, err := d.Authenticate(ctx, "olga", "olga-demo-1"); !errors.Is(err, legacy.ErrLockedOut) {
				return err
			}
			return nil
		}, 1, 0},
		{"lookup by login", func() error { _, err := d.MemberByLogin(ctx, "alice"); return err }, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r0, d0 := reads(), decodes()
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			if r, n := reads()-r0, decodes()-d0; r != tc.reads || n != tc.decodes {
				t.Fatalf("login columns read %d times, rows decoded %d; want %d and %d", r, n, tc.reads, tc.decodes)
			}
		})
	}
}
