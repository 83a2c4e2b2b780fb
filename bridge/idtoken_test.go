package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// codeFlowClaims signs alice in to web and returns the ID token's and userinfo's claims.
func codeFlowClaims(t *testing.T, e *env) (map[string]any, map[string]any) {
	t.Helper()
	web, v := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := v.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var id map[string]any
	if err := idt.Claims(&id); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, ui := doJSON(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo: %d %v", resp.StatusCode, ui)
	}
	return id, ui
}

// TestEmailVerifiedAlwaysSent: email_verified is in the ID token and userinfo with the email
// scope, false by default (false was dropped by omitempty), true when the configuration says
// the AMS's addresses are verified.
func TestEmailVerifiedAlwaysSent(t *testing.T) {
	for _, verified := range []bool{false, true} {
		e := newEnv(t, func(c *bridge.Config) { c.Policy.EmailVerified = verified })
		id, ui := codeFlowClaims(t, e)
		for name, claims := range map[string]map[string]any{"ID token": id, "userinfo": ui} {
			if v, ok := claims["email_verified"]; !ok || v != verified {
				t.Fatalf("%s email_verified = %v (present %v), want %v: %v", name, v, ok, verified, claims)
			}
		}
	}
}

// TestCodeFlowIDTokenClaims: an ID token from the token endpoint carries neither c_hash (only
// for ID tokens from the authorization endpoint, OIDC Core 3.3.2.11) nor a client_id claim
// (not an ID token claim; azp and aud name the client).
func TestCodeFlowIDTokenClaims(t *testing.T) {
	e := newEnv(t)
	id, _ := codeFlowClaims(t, e)
	for _, k := range []string{"c_hash", "client_id"} {
		if _, ok := id[k]; ok {
			t.Fatalf("code-flow ID token carries %s: %v", k, id)
		}
	}
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "at_hash", "sid"} {
		if _, ok := id[k]; !ok {
			t.Fatalf("code-flow ID token lacks %s: %v", k, id)
		}
	}
}
