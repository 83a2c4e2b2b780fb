package sso_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRevokeOwnTokens (review s21 X, proof): RFC 7009 for the tokens a client holds that
// TestIntrospectionRevocation does not cover. A client_credentials access token revoked by its
// client introspects inactive at once (its subject is the client: op hands the storage a user
// id, so it is revoked as an access token, not looked up as a refresh token and answered 200
// with nothing revoked). A public client revokes its own refresh token with its client_id alone
// (RFC 7009 2.1), and the token then refreshes nothing. Another client's introspection of a
// token answers {"active":false} and nothing else (RFC 7662 2.2).
func TestRevokeOwnTokens(t *testing.T) {
	h := newHarness(t)
	t.Run("client_credentials access token", func(t *testing.T) {
		status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}}, "svc:"+svcSecret)
		if status != http.StatusOK {
			t.Fatalf("client_credentials: %d %v", status, body)
		}
		at := body["access_token"].(string)
		if got := h.introspectAs("svc:"+svcSecret, at); got["active"] != true {
			t.Fatalf("before revocation: %v", got)
		}
		if got := h.introspectAs("web:"+webSecret, at); len(got) != 1 || got["active"] != false {
			t.Fatalf("another client's introspection: %v", got)
		}
		if resp := h.post(sso.PathRevoke, url.Values{"token": {at}}, "svc:"+svcSecret); resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if got := h.introspectAs("svc:"+svcSecret, at); got["active"] != false {
			t.Fatalf("after revocation: %v", got)
		}
	})
	t.Run("public client's refresh token", func(t *testing.T) {
		verifier, challenge := pkce()
		cfg := h.oauth2Config("spa", "", "https://spa.example/cb", "openid", "offline_access")
		u := h.signIn(cfg.AuthCodeURL("s", oauthParam("code_challenge", challenge), oauthParam("code_challenge_method", "S256")), "alice")
		status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
			"redirect_uri": {"https://spa.example/cb"}, "code_verifier": {verifier}, "client_id": {"spa"}}, "")
		rt, _ := body["refresh_token"].(string)
		if status != http.StatusOK || rt == "" {
			t.Fatalf("code exchange: %d %v", status, body)
		}
		if resp := h.post(sso.PathRevoke, url.Values{"token": {rt}, "client_id": {"spa"}}, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("public revocation: %d", resp.StatusCode)
		}
		status, body, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}, "")
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh with the revoked token: %d %v", status, body)
		}
	})
}
