package sso_test

import (
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestAuthorizeWithoutScopeIsInvalidScope (review s17 X17-6; RFC 6749 3.3: "If the client omits
// the scope parameter when requesting authorization, the authorization server MUST either process
// the request using a pre-defined default value or fail the request indicating an invalid
// scope"; OIDC Core 3.1.2.6 lists invalid_scope among the OAuth errors). Before, op's
// invalid_request ("The scope of your request is missing") was sent.
func TestAuthorizeWithoutScopeIsInvalidScope(t *testing.T) {
	h := newHarness(t, withErrorPage)
	_, challenge := pkce()
	q := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"}, "state": {"s"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	resp := h.get(sso.PathAuthorize + "?" + q.Encode())
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("error") != "invalid_scope" || loc.Query().Get("state") != "s" || loc.Query().Get("iss") != h.issuer {
		t.Fatalf("authorize without scope: %d %s, want a redirect with invalid_scope, state and iss", resp.StatusCode, loc)
	}
}
