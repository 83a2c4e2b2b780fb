package bridge_test

import (
	"fmt"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestFailedClientAuthAuditLimited (review s6 F4): a failed client authentication at the token
// endpoint is an anonymous caller's write (client.auth_failure, then client.throttled once the
// throttle refuses): like the failed sign-ins' rows, past the address's anonymous-write budget
// one "ratelimit.refused" row stands for them, instead of one audit row per request for as long
// as anyone keeps posting junk.
func TestFailedClientAuthAuditLimited(t *testing.T) {
	const limit = 5
	e := newEnv(t, func(c *bridge.Config) {
		c.Throttle.AnonymousWrites, c.Throttle.PerLogin, c.Throttle.PerIP = limit, 3, 6
	})
	rows := func() int {
		return countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event IN ('client.auth_failure', 'client.throttled')")
	}
	before := rows()
	for i := range 40 {
		// unknown clients, a wrong secret for a known one, a malformed header
		resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "client_credentials"}, fmt.Sprintf("junk-%d", i), "x")
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 429 {
			t.Fatalf("junk client: %d %v", resp.StatusCode, body)
		}
		resp, _ = postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "client_credentials"}, "web", "wrong")
		resp.Body.Close()
	}
	if n := rows() - before; n > limit {
		t.Fatalf("%d audit rows of failed client authentications from one address, want at most %d", n, limit)
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'ratelimit.refused' AND detail = 'audit rows of failed sign-ins'"); n != 1 {
		t.Fatalf("%d ratelimit rows for the audit rows not written, want 1", n)
	}
}

// TestPublicCodeReplayAuditLimited (review s6 F7): presenting a used code again revokes what it
// issued and writes token.code_replay; for a public client that takes no secret, so anyone
// holding one used code (browser history, a log, a Referer) could append a row per request
// until the request expires. Past the address's anonymous-write budget one ratelimit.refused
// row stands for them.
func TestPublicCodeReplayAuditLimited(t *testing.T) {
	const limit = 5
	e := grantEnv(t, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
	mobile, _ := e.oauth("mobile", "", "http://127.0.0.1:40123/mobile/cb", oauth2.AuthStyleInParams)
	v := oauth2.GenerateVerifier()
	code := e.signIn(e.browser(), mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-password")
	if _, err := mobile.Exchange(e.ctx(), code, oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.code_replay'")
	for range 30 {
		resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"client_id": "mobile", "redirect_uri": "http://127.0.0.1:40123/mobile/cb", "code_verifier": v})
		resp.Body.Close()
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("replayed code: %d %v", resp.StatusCode, body)
		}
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.code_replay'") - before; n > limit {
		t.Fatalf("%d token.code_replay rows from one address, want at most %d", n, limit)
	}
}

// TestLoginPageWritesLimited (review s6 F5): the login page binds a new request to the browser
// with a write (ClaimAuthRequest), run for any id it is given, also one that names no request
// (on SQLite that still takes the one writer). Like every endpoint that writes for an anonymous
// caller, it is refused past the address's anonymous-write budget.
func TestLoginPageWritesLimited(t *testing.T) {
	const limit = 5
	e := newEnv(t, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
	get := func(i int) int {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/login?id=junk-%d", e.issuer, i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range limit {
		if s := get(i); s == http.StatusTooManyRequests {
			t.Fatalf("request %d refused", i+1)
		}
	}
	if s := get(limit); s != http.StatusTooManyRequests {
		t.Fatalf("GET /login past the anonymous-write budget: %d, want 429", s)
	}
}
