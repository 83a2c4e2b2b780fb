package directorytest

import (
	"context"
	"database/sql"

	"github.com/ssobridge/ssobridge/legacy/demo"
)

// DemoAccounts are the demo database's sign-ins (legacy/demo) as the suite's accounts: the
// members that sign in, with the roles and staff flag their tokens carry, and those refused
// after the right password. The demo's encrypted-hash login (unsupported_hash: its stored
// password can never be verified, whatever is typed) is neither.
func DemoAccounts() (members []Account, refused []Refused) {
	for _, l := range demo.Logins() {
		switch l.Outcome {
		case "ok":
			members = append(members, Account{Login: l.Login, Password: l.Password, Key: l.Key, MemberID: l.MemberID, Roles: l.Roles, Staff: l.Staff})
		case "unsupported_hash":
		default:
			refused = append(refused, Refused{Login: l.Login, Password: l.Password, Reason: l.Outcome})
		}
	}
	return members, refused
}

// DemoExpiry is the password expiry fixture of the demo data: alice (not a system
// administrator) and staff (holds the SysAdmin role), whose passwords were last changed
// demo.DefaultPasswordAge ago; set stores the two settings in the target's copy of the demo
// database (demo.SetPasswordExpiry, or the same statement through another driver).
func DemoExpiry(set func(ctx context.Context, memberDays, sysAdminDays int) error) *Expiry {
	age := int(demo.DefaultPasswordAge.Hours() / 24)
	x := &Expiry{Set: set}
	for _, l := range demo.Logins() {
		switch l.Login {
		case "alice":
			x.Member = Aged{Login: l.Login, Password: l.Password, AgeDays: age}
		case "staff":
			x.SysAdmin = Aged{Login: l.Login, Password: l.Password, AgeDays: age}
		}
	}
	return x
}

// DemoFileExpiry is DemoExpiry for a target whose demo database is the SQLite file at path
// (demo.Open's): the settings are stored through a connection of their own.
func DemoFileExpiry(path string) *Expiry {
	return DemoExpiry(func(ctx context.Context, memberDays, sysAdminDays int) error {
		db, err := sql.Open("sqlite", path) // demo.Open's driver
		if err != nil {
			return err
		}
		defer db.Close()
		return demo.SetPasswordExpiry(ctx, db, memberDays, sysAdminDays)
	})
}
