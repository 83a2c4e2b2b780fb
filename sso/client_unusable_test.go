package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestClientOfASubjectsShapeUnusable (closing s19, noticed by M): a client the administration
// stored with an id of a member's subject's shape (40 hexadecimal characters) before Validate
// refused one is kept in the store but not served: its client_credentials request (whose token's
// sub would be that id, RFC 9068 section 5) and every other API request are refused
// unauthorized_client with the reason, /authorize refuses it on the error page without sending
// the browser to its redirect_uri, and each refusal is audited (client.unusable). A client
// beside it is served.
func TestClientOfASubjectsShapeUnusable(t *testing.T) {
	const hexID = "0123456789ABCDEF0123456789abcdef01234567"
	h := newHarness(t)
	addClient(t, h, sso.ClientConfig{ID: hexID, Name: "Old", SecretHash: sso.HashSecret(svcSecret),
		RedirectURIs: []string{webRedirect}, Scopes: []string{"openid", "api.read"},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantClientCredentials}})
	if _, err := h.reg.ClientConfig(t.Context(), hexID); err != nil {
		t.Fatalf("the stored client is not kept: %v", err)
	}

	basic := hexID + ":" + svcSecret
	for _, form := range []url.Values{
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"client_credentials"}, "scope": {"api.read"}},
	} {
		status, body, _ := h.token(form, basic)
		desc, _ := body["error_description"].(string)
		if status != http.StatusBadRequest || body["error"] != "unauthorized_client" || !strings.Contains(desc, "member's subject") || body["access_token"] != nil {
			t.Fatalf("client_credentials of %s: %d %v", hexID, status, body)
		}
	}
	resp := h.post(sso.PathIntrospect, url.Values{"token": {"x"}}, basic)
	if body := decodeJSON(t, resp); resp.StatusCode != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Fatalf("introspection by %s: %d %v", hexID, resp.StatusCode, body)
	}
	// A wrong secret is still invalid_client: nothing is said to who has not authenticated.
	if status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}}, hexID+":wrong"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("a wrong secret for %s: %d %v", hexID, status, body)
	}

	auth := h.oauth2Config(hexID, svcSecret, webRedirect, "openid").AuthCodeURL("st",
		oauthParam("code_challenge", strings.Repeat("a", 43)), oauthParam("code_challenge_method", "S256"))
	resp = h.get(auth)
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, webRedirect) || resp.StatusCode == http.StatusFound && strings.Contains(loc, "/login") {
		t.Fatalf("/authorize for %s: %d to %q, want an error page", hexID, resp.StatusCode, loc)
	}
	if resp.StatusCode < 400 {
		t.Fatalf("/authorize for %s: %d, want an error page", hexID, resp.StatusCode)
	}
	if !h.hooks.sawEvent("client.unusable") {
		t.Fatal("no client.unusable audit event")
	}

	if status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}}, "svc:"+svcSecret); status != http.StatusOK {
		t.Fatalf("another client beside it: %d %v", status, body)
	}
}
