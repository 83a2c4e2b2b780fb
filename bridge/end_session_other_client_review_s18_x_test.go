package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestEndSessionHintOfAnotherClient (review s18): RP-Initiated Logout 1.0 sections 2 and 3.
// An end_session request whose id_token_hint was issued to another app than client_id names,
// or whose post_logout_redirect_uri is registered for another app than the hint's, is not
// redirected to that URI (the refusal page, 400) and ends nothing: an app cannot use another app's ID token (which it may hold: a
// token exchange, a leaked log) to send the member's browser to its own address, or to a
// third's.
func TestEndSessionHintOfAnotherClient(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	signedOut := e.rp + "/signed-out" // registered for web only
	for _, tc := range []struct {
		name string
		q    func(hint string) url.Values
	}{
		{"client_id of another app than the hint's", func(hint string) url.Values {
			return url.Values{"id_token_hint": {hint}, "client_id": {"web"}, "post_logout_redirect_uri": {signedOut}}
		}},
		{"redirect registered for another app than the hint's", func(hint string) url.Values {
			return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {signedOut}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			if e.signIn(b, web.AuthCodeURL("w"), "alice", "alice-password") == "" {
				t.Fatal("no sign-in to web")
			}
			tok, err := other.Exchange(e.ctx(), e.signIn(b, other.AuthCodeURL("o"), "", ""))
			if err != nil {
				t.Fatal(err)
			}
			hint := tok.Extra("id_token").(string)
			p := b.Get(e.issuer + "/end_session?" + tc.q(hint).Encode())
			for range 5 {
				if p.Location == "" || strings.HasPrefix(p.Location, e.rp) {
					break
				}
				p = b.Get(p.Location)
			}
			if p.Location != "" || p.Status != http.StatusBadRequest {
				t.Fatalf("end_session with other's ID token: %d %q, want the refusal page", p.Status, p.Location)
			}
			if b.Get(e.issuer+"/account").Status != http.StatusOK {
				t.Fatal("a refused end_session ended the member's session")
			}
		})
	}
}
