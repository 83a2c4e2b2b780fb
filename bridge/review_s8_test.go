package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignInWithUndecodableCookie (review s8 Y1): a browser whose cookie does not decode (from
// another installation of the bridge on this host name, tampered with, sealed with other keys)
// signs in at its first try. The authorization page bound the request to a nonce that the
// cookie it saved then lost (the cookie session was cleared again at each later read of the
// request), so the sign-in post was refused as "started in another browser" (403).
func TestSignInWithUndecodableCookie(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	u, err := url.Parse(e.issuer + "/")
	if err != nil {
		t.Fatal(err)
	}
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "ssobridge", Value: "c2VhbGVkLWJ5LWFub3RoZXItYnJpZGdl", Path: "/"}})
	p := b.Get(web.AuthCodeURL("s0"))
	if !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("expected the login form: %d at %s", p.Status, p.URL)
	}
	p = b.Login(p, "alice", "alice-password")
	if q := p.Redirected(t); q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
}
