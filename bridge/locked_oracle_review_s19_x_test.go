package bridge_test

import (
	"net/http"
	"testing"
)

// TestLockedAccountIsNoPasswordOracle (review s19 X19-4): an AMS account locked out after too
// many failed passwords (aspnet_Membership.IsLockedOut) is refused by the AMS without its
// password being checked (SqlMembershipProvider: aspnet_Membership_GetPasswordWithFormat
// answers a locked user before any comparison), so guessing stops there. The bridge checks the
// password first and answers the right one "Your account is locked", a wrong one "The username
// or password is not right": whoever guessed the account into its lockout goes on guessing here
// (at the bridge's own per-login rate) and is told when they found it, ready for when the
// account is unlocked. The two answers must not differ.
func TestLockedAccountIsNoPasswordOracle(t *testing.T) {
	e := grantEnv(t)
	answer := func(password string) (int, string) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "locked",
			"password": password, "scope": "openid"}, "legacy", legacySecret)
		d, _ := body["error_description"].(string)
		return resp.StatusCode, body["error"].(string) + ": " + d
	}
	ws, wrong := answer("not-the-password")
	rs, right := answer("locked-password")
	if ws != http.StatusBadRequest || rs != http.StatusBadRequest {
		t.Fatalf("statuses %d, %d", ws, rs)
	}
	if wrong != right {
		t.Fatalf("a locked account tells a right password from a wrong one:\n wrong: %s\n right: %s", wrong, right)
	}
}
