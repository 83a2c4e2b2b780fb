package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignInLinkCannotBeRedeemedElsewhere: an attacker starts a sign-in (their own PKCE
// verifier) and gets a signed-in member to open the login link. The member's browser completes
// it, but the attacker's browser cannot collect a code from the callback, and the callback never
// issues a second code.
func TestSignInLinkCannotBeRedeemedElsewhere(t *testing.T) {
	e := newEnv(t)
	victim := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(victim, web.AuthCodeURL("v"), "alice", "alice-password")

	attacker := e.browser()
	app, _ := e.oauth("mobile", "", "http://127.0.0.1/mobile/cb", oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	attacker.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := attacker.Get(app.AuthCodeURL("a", oauth2.S256ChallengeOption(verifier)))
	if !strings.HasPrefix(start.Location, "/login?id=") {
		t.Fatalf("no login link: %q", start.Location)
	}
	loginLink := e.issuer + start.Location
	id, _ := url.ParseQuery(strings.TrimPrefix(start.Location, "/login?"))

	// The member opens the link: their session completes the request, their browser gets the code.
	if q := victim.Get(loginLink).Redirected(t); q.Get("code") == "" {
		t.Fatalf("member's browser: %v", q)
	}
	// The attacker's browser asks the callback for a code: refused.
	p := attacker.Get(e.issuer + "/authorize/callback?id=" + url.QueryEscape(id.Get("id")))
	if p.Status != http.StatusForbidden || strings.Contains(p.Location, "code=") {
		t.Fatalf("attacker got %d %q", p.Status, p.Location)
	}
	// And the member's own browser gets no second code either.
	again := victim.Get(e.issuer + "/authorize/callback?id=" + url.QueryEscape(id.Get("id")))
	if strings.Contains(again.Location, "code=") {
		t.Fatalf("a second code was issued: %q", again.Location)
	}
}
