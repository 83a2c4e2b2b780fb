package sso_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestUserinfoNeedsOpenID (review s9 Z11): UserInfo is an OpenID Connect resource (OIDC Core
// 5.3); an access token granted without the openid scope gets 403 insufficient_scope with a
// Bearer challenge naming the scope (RFC 6750 3.1), not the member's claims.
func TestUserinfoNeedsOpenID(t *testing.T) {
	h := newHarness(t)
	at := passwordTokens(t, h, "profile")["access_token"].(string)
	resp := h.get(sso.PathUserinfo, "Authorization", "Bearer "+at)
	body := decodeJSON(t, resp)
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || body["error"] != "insufficient_scope" || !strings.HasPrefix(ch, "Bearer") ||
		!strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="openid"`) || body["sub"] != nil {
		t.Fatalf("userinfo without openid: %d %v %q", resp.StatusCode, body, ch)
	}
	at = passwordTokens(t, h, "openid profile")["access_token"].(string)
	if resp := h.get(sso.PathUserinfo, "Authorization", "Bearer "+at); resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo with openid: %d", resp.StatusCode)
	}
}
