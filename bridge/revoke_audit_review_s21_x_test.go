package bridge_test

import (
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestPublicRevokeAuditLimited (review s21 X21-1): RFC 7009 revocation of a refresh token writes
// token.revoke (and revokes its family again) every time the token is presented, also when its
// family was revoked already. A public client authenticates by its id alone, and /revoke is not
// among the anonymous-write limits, so anyone holding one refresh token of a public app (their
// own) appends an audit row, and takes the store's writer, per request for as long as they
// like: the class of review s6 F4/F7 (TestPublicCodeReplayAuditLimited). At most the
// address's anonymous-write budget of rows may come of it; a token already revoked is an
// invalid token (RFC 7009 2.2) and needs no row at all.
func TestPublicRevokeAuditLimited(t *testing.T) {
	const limit = 5
	e := grantEnv(t, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
	mobile, _ := e.oauth("mobile", "", "http://127.0.0.1:40123/mobile/cb", oauth2.AuthStyleInParams, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	code := e.signIn(e.browser(), mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-password")
	tok, err := mobile.Exchange(e.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	before := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.revoke'")
	for range 30 {
		resp, body := postForm(t, e.issuer+"/revoke", map[string]string{"token": tok.RefreshToken, "client_id": "mobile"})
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 429 {
			t.Fatalf("revoke: %d %v", resp.StatusCode, body)
		}
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.revoke'") - before; n > limit {
		t.Fatalf("%d token.revoke rows from one address and one refresh token, want at most %d", n, limit)
	}
}
