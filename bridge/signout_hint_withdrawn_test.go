package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignOutWithHintOfWithdrawnKey (review s14 X-3; OIDC RP-Initiated Logout 1.0 section 2 and
// 4): after a signing key is withdrawn (a compromise), an app's sign-out carries the ID token
// it got at sign-in, signed by that key, as id_token_hint. The hint no longer verifies, so the
// OP must not redirect to post_logout_redirect_uri and must not take the hint's word for who is
// signing out, but it may still end its own session once the member confirms, as it does for a
// request without a hint. Refusing the whole request with an error page leaves the member
// signed in at the bridge (and, through it, at every app) after clicking "Sign out", at the
// moment the operator is recovering from a compromise; the same happens after an ordinary
// rotation to a session older than the key's time in JWKS.
func TestSignOutWithHintOfWithdrawnKey(t *testing.T) {
	e, a := adminEnv(t)
	b := e.browser()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "profile")
	authURL := cfg.AuthCodeURL("s")
	code := e.signIn(b, authURL, "alice", "alice-password")
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	rawID := tok.Extra("id_token").(string)
	a.ok(http.MethodPost, "/admin/keys/"+kidOf(t, rawID)+"/retire", nil)

	page := b.Get(e.issuer + "/end_session?" + url.Values{"id_token_hint": {rawID},
		"post_logout_redirect_uri": {e.rp + "/signed-out"}, "state": {"s2"}}.Encode())
	if page.Location != "" && strings.HasPrefix(page.Location, e.rp) {
		t.Fatalf("redirected to the app with an unverifiable hint: %s", page.Location)
	}
	csrf, tt := page.Hidden().Get("csrf"), page.Hidden().Get("t")
	if page.Status != 200 || csrf == "" || tt == "" {
		t.Fatalf("sign-out with an ID token of the withdrawn key: %d, no confirmation offered; the member stays signed in\n%.400s", page.Status, page.Body)
	}
	b.Post(e.issuer+"/logout", url.Values{"csrf": {csrf}, "t": {tt}})
	if p := b.Get(authURL); p.Location != "" && strings.HasPrefix(p.Location, e.rp) {
		t.Fatal("still signed in after confirming the sign-out")
	}
}
