package directorytest

import (
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
