package bridge_test

import (
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestAMSDownIs503AtEveryAPIEndpoint (session 26, brief P item 5; RFC 6749 4.1.2.1's
// temporarily_unavailable, RFC 9110 15.6.4 503 with Retry-After): with the AMS unreachable,
// userinfo, introspection, the code exchange (the ID token's claims) and the refresh all answer
// 503 temporarily_unavailable with the same Retry-After, and each works again once the AMS is
// back. The hooks wrap legacy.ErrUnavailable with sso.ErrTemporarilyUnavailable, which sso
// recognises. Before, userinfo and introspection answered 500 server_error (sso could not tell
// the AMS away from a bug) and the code exchange 500, while the refresh already said 503.
func TestAMSDownIs503AtEveryAPIEndpoint(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess)
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %v %v", err, tok)
	}
	code := e.signIn(e.browser(), cfg.AuthCodeURL("s2", oidc.Nonce("n2")), "alice", "alice-password")
	userinfo := func() (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return doJSON(t, req)
	}
	calls := []struct {
		name string
		do   func() (*http.Response, map[string]any)
	}{
		{"userinfo", userinfo},
		{"introspection", func() (*http.Response, map[string]any) { return introspect(t, e, tok.AccessToken, "web", webSecret) }},
		{"code exchange", func() (*http.Response, map[string]any) {
			return postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
				"redirect_uri": e.rp + "/callback"}, "web", webSecret)
		}},
		{"refresh", func() (*http.Response, map[string]any) {
			return postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}, "web", webSecret)
		}},
	}
	e.dir.Down = true
	for _, c := range calls {
		resp, m := c.do()
		if resp.StatusCode != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") != "30" {
			t.Errorf("%s while the AMS is down: %d %v Retry-After %q, want 503 temporarily_unavailable, Retry-After 30",
				c.name, resp.StatusCode, m, resp.Header.Get("Retry-After"))
		}
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("%s while the AMS is down: a challenge %q (the token and the client are not in question)", c.name, h)
		}
	}
	e.dir.Down = false
	for _, c := range calls {
		if resp, m := c.do(); resp.StatusCode != http.StatusOK || m["active"] == false {
			t.Errorf("%s once the AMS is back: %d %v", c.name, resp.StatusCode, m)
		}
	}
}
