package bridge_test

import (
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Review s25 X-1 (High), on the bridge: an app refreshing while the AMS cannot be reached is
// told invalid_grant (400, empty description), which every OAuth client takes as "the grant
// is gone, sign the user in again": an AMS outage signs members out of their apps. The hooks
// say an unreachable AMS is a server error and the grant stays valid (hooks.CheckGrant); the
// device, password and token-exchange grants answer it 503 temporarily_unavailable. Fails on
// main: 400 invalid_grant.
func TestX25RefreshWhileAMSDownKeepsTheGrant(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %v %v", err, tok)
	}
	e.dir.Down = true
	status, m := refreshOnce(t, e, "web", webSecret, tok.RefreshToken)
	e.dir.Down = false
	if status != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" {
		t.Errorf("refresh while the AMS is down: %d %v, want 503 temporarily_unavailable (never invalid_grant)", status, m)
	}
	if status, m := refreshOnce(t, e, "web", webSecret, tok.RefreshToken); status != http.StatusOK {
		t.Errorf("the same refresh token once the AMS is back: %d %v", status, m)
	}
}

// Review s25 X-2 (Medium), on the bridge: the code grant reads the member (the ID token's
// claims) only after IssueTokens consumed the code. With the AMS down at that moment the app
// gets 500 and its retry once the AMS is back is a replay: "invalid code", the grant revoked,
// token.code_replay audited (a false alarm in the audit log); the member must sign in again
// although nothing was wrong with the code. Fails on main: the retry is 400 invalid_grant and
// one token.code_replay row is written.
func TestX25CodeExchangeWhileAMSDownLeavesTheCode(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess)
	code := e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	e.dir.Down = true
	_, err := cfg.Exchange(e.ctx(), code)
	e.dir.Down = false
	if err == nil {
		t.Fatal("the exchange while the AMS is down issued tokens; the test no longer reaches the fault")
	}
	if _, err := cfg.Exchange(e.ctx(), code); err != nil {
		t.Errorf("the retry once the AMS is back: %v, want tokens", err)
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.code_replay'"); n != 0 {
		t.Errorf("%d token.code_replay rows for an app that retried after the server's own failure, want 0", n)
	}
}

// Review s25 X-9 (Medium), on the bridge: /userinfo while the AMS cannot be reached answers 401
// invalid_token "the access token is invalid, expired or revoked" (RFC 6750 3.1: the client
// drops the token), for a token that is fine. Fails on main: 401 invalid_token.
func TestX25UserinfoWhileAMSDownIsNotInvalidToken(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "profile")
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	get := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	e.dir.Down = true
	resp := get()
	e.dir.Down = false
	if resp.StatusCode < 500 {
		t.Errorf("userinfo while the AMS is down: %d (WWW-Authenticate %q), want a 5xx, never 401 invalid_token",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Errorf("userinfo once the AMS is back: %d", resp.StatusCode)
	}
}
