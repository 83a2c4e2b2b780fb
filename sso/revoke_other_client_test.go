package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// passwordTokens is web's password grant for alice with scope.
func passwordTokens(t *testing.T, h *harness, scope string) map[string]any {
	t.Helper()
	status, body, _ := h.token(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}, "scope": {scope}}, "web:"+webSecret)
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, body)
	}
	return body
}

// TestRevokeAnotherClientsToken (review s9 Z9): RFC 7009 2.1 refuses the revocation of a token
// issued to another client; the client authenticated fine, so the answer is not 401
// invalid_client with a Basic challenge (RFC 6749 5.2: "the client authentication failed")
// but 400 invalid_grant ("issued to another client"). The token stays valid.
func TestRevokeAnotherClientsToken(t *testing.T) {
	h := newHarness(t)
	tok := passwordTokens(t, h, "openid offline_access")
	for _, kind := range []string{"access_token", "refresh_token"} {
		t.Run(kind, func(t *testing.T) {
			resp := h.post(sso.PathRevoke, url.Values{"token": {tok[kind].(string)}}, "third:"+webSecret)
			body := decodeJSON(t, resp)
			desc, _ := body["error_description"].(string)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || resp.Header.Get("WWW-Authenticate") != "" ||
				!strings.Contains(desc, "another client") {
				t.Fatalf("revoke of web's %s by third: %d %v %q", kind, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if h.introspect(tok["access_token"].(string))["active"] != true {
		t.Fatal("web's access token was revoked by another client")
	}
}
