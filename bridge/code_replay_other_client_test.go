package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestCodeReplayByAnotherClientRevokesNothing (review s18 X18-7): RFC 6749 4.1.2 and 10.5: a
// code used more than once is refused and what it issued SHOULD be revoked, because the client
// it was issued to may have leaked it. A code is bound to its client (4.1.3): another client
// presenting it is refused ("not issued to this client") while it is unused, and must be refused
// the same way once used. Here the replay is checked first, so any client, a public one
// without a secret included, that presents web's redeemed code (from a proxy log, the
// browser's history of the callback URL) revokes web's grant: the member is signed out of web
// at its next refresh by someone who never held web's credentials.
func TestCodeReplayByAnotherClientRevokesNothing(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	// mobile is a public client: no secret, only its id.
	resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
		"client_id": "mobile", "redirect_uri": "http://127.0.0.1/mobile/cb", "code_verifier": "0123456789012345678901234567890123456789abc"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("web's code at mobile: %d %v", resp.StatusCode, body)
	}
	if resp, body := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken}, "web", webSecret); body["active"] != true {
		t.Errorf("web's access token after another client presented its code: %d %v, want active", resp.StatusCode, body)
	}
	if resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}, "web", webSecret); resp.StatusCode != http.StatusOK {
		t.Errorf("web's refresh after another client presented its code: %d %v, want 200", resp.StatusCode, body)
	}
}
