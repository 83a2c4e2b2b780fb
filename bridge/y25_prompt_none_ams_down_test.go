package bridge_test

import (
	"testing"

	"golang.org/x/oauth2"
)

// Review s25 Y-4 (Low): a silent sign-in (prompt=none, OIDC Core 3.1.2.1) while the AMS cannot
// be reached is answered with the HTML "membership system unavailable" page (503) instead of an
// authentication error response at the app's redirect_uri. prompt=none runs in a hidden iframe
// or a background redirect: nobody sees the page, the app waits for a response that never
// comes (oidc-client-ts signinSilent: "Frame window timed out") and most apps then treat the
// member as signed out. RFC 6749 4.1.2.1's temporarily_unavailable is the answer that tells the
// app to try again later. Fails on main: 503 page, no redirect.
func TestY25PromptNoneWhileAMSDownAnswersTheApp(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password")

	e.dir.Down = true
	p := b.Get(web.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "none")))
	e.dir.Down = false
	if p.Location == "" {
		t.Fatalf("prompt=none while the AMS is down: status %d at %s, no redirect to the app (want error=temporarily_unavailable at the redirect_uri)",
			p.Status, p.URL)
	}
	if q := p.Redirected(t); q.Get("error") != "temporarily_unavailable" || q.Get("state") != "b" {
		t.Errorf("prompt=none while the AMS is down: redirect %q, want error=temporarily_unavailable with the state", p.Location)
	}
}
