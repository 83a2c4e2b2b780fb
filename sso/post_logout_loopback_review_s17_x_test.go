package sso_test

import (
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// TestPostLogoutLoopbackRedirect (review s17 X17-1; RFC 8252 7.3, RP-Initiated Logout 1.0
// section 3): a native app's post_logout_redirect_uri may differ from the registered loopback
// one in its port only, as its redirect_uri at the authorization endpoint may
// (TestLoopbackRedirectPorts). Before, end_session took op's looser rule for native clients:
// another loopback host (localhost, [::1] for a registered 127.0.0.1), https for http, user
// info, a fragment and port 0 were all accepted and the member sent there, by client_id alone
// and by an id_token_hint alike.
func TestPostLogoutLoopbackRedirect(t *testing.T) {
	h := newHarness(t, withErrorPage)
	ctx := t.Context()
	c := &sso.ClientConfig{ID: "native", Name: "Native", Public: true, Trusted: true,
		RedirectURIs:           []string{"http://127.0.0.1/cb"},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1/bye"},
		GrantTypes:             []string{sso.GrantAuthorizationCode}, Scopes: []string{"openid"}}
	c.FillDefaults()
	sc, err := sso.EncodeClient(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// An ID token of the native client, for the id_token_hint cases.
	verifier, challenge := pkce()
	cfg := &oauth2.Config{ClientID: "native", RedirectURL: "http://127.0.0.1:5555/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: h.issuer + sso.PathAuthorize, TokenURL: h.issuer + sso.PathToken, AuthStyle: oauth2.AuthStyleInParams}}
	u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
	tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := tok.Extra("id_token").(string)
	if idt == "" {
		t.Fatal("no ID token")
	}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1/bye", true},
		{"http://127.0.0.1:4444/bye", true},
		{"http://localhost:4444/bye", false},
		{"http://[::1]:4444/bye", false},
		{"https://127.0.0.1:4444/bye", false},
		{"http://user@127.0.0.1:4444/bye", false},
		{"http://127.0.0.1:4444/bye#f", false},
		{"http://127.0.0.1:0/bye", false},
		{"http://127.0.0.1:4444/bye/", false},
	} {
		for _, by := range []string{"client_id", "id_token_hint"} {
			q := url.Values{"post_logout_redirect_uri": {tc.uri}}
			if by == "client_id" {
				q.Set("client_id", "native")
			} else {
				q.Set("id_token_hint", idt)
			}
			resp := h.get(sso.PathEndSession + "?" + q.Encode())
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			redirected := resp.StatusCode == 302 && strings.HasPrefix(loc, "/logged-out?to="+url.QueryEscape(tc.uri))
			refused := resp.StatusCode == 400 && strings.Contains(string(body), "PAGE: ")
			if tc.ok && !redirected || !tc.ok && !refused {
				t.Errorf("%s by %s: %d %q %q, want accepted %v", tc.uri, by, resp.StatusCode, loc, body, tc.ok)
			}
		}
	}
}
