package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestHintedMemberOnly (review s7 G1): an id_token_hint names the member the client expects
// (OIDC Core 3.1.2.1: "If the End-User identified by the ID Token is logged in or is logged in
// by the request, then the Authorization Server returns a positive response; otherwise, it
// SHOULD return an error, such as login_required"). The login page asks for a new sign-in when
// the browser's session is another member's; another member signing in there must not get the
// client a code for that member.
func TestHintedMemberOnly(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, web.AuthCodeURL("s0"), "bob", "bob-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	bobHint := tok.Extra("id_token").(string)
	b2 := e.browser()
	p := b2.Get(web.AuthCodeURL("s1", oauth2.SetAuthURLParam("id_token_hint", bobHint)))
	if !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("expected the login form: %d at %s", p.Status, p.URL)
	}
	p = b2.Login(p, "alice", "alice-password")
	q := p.Redirected(t)
	if q.Get("code") != "" {
		t.Fatalf("alice signed in on a request whose id_token_hint names bob: the client got a code for alice")
	}
	if q.Get("error") != "login_required" {
		t.Fatalf("want login_required at the redirect URI, got %v", q)
	}
}

// TestSignInFormBodyBounded (review s7 G4): an anonymous post to the sign-in form with a body
// larger than web.MaxRequestBody is refused (413) without being parsed.
func TestSignInFormBodyBounded(t *testing.T) {
	e := newEnv(t)
	body := strings.NewReader("csrf=x&id=y&login=a&password=" + strings.Repeat("a", 2<<20))
	resp, err := http.Post(e.issuer+"/login", "application/x-www-form-urlencoded", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB sign-in form post: %d, want 413", resp.StatusCode)
	}
}
