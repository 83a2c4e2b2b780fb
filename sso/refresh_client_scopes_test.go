package sso_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRefreshKeepsToTheClientsScopes (review s10 V9, X's test adapted by Y): a scope an administrator takes away from
// a client (its `scopes`, what it may ask for) is not issued again at the next refresh: the
// refresh answers with the family's scopes that the client may still ask for, as an authorize
// request would keep them (the standard OIDC scopes always, others only while the client's
// scopes name them: op's ValidateAuthReqScopes). Before, a refresh token issued before the
// change kept releasing the removed scopes' claims (roles here; membership, custom scopes) for
// the family's whole lifetime (30 days by default). The family keeps its scope: given back to
// the client, roles is issued again.
func TestRefreshKeepsToTheClientsScopes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	secret := strings.Repeat("d", 32)
	dyn := &sso.ClientConfig{ID: "dyn", Name: "Dyn", SecretHash: sso.HashSecret(secret), RedirectURIs: []string{webRedirect},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "email", "offline_access", "roles"}, Trusted: true}
	dyn.FillDefaults()
	sc, err := sso.EncodeClient(dyn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the registry looks for changes every second
	cfg := h.oauth2Config("dyn", secret, webRedirect, "openid", "profile", "email", "offline_access", "roles")
	verifier, challenge := pkce()
	u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
	tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != "openid profile email offline_access roles" {
		t.Fatalf("scope %v", got)
	}
	dyn.Scopes = []string{"openid", "profile", "offline_access"} // the administrator takes roles (and email) away
	if sc, err = sso.EncodeClient(dyn, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.store.UpdateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "dyn:"+secret)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if s, _ := body["scope"].(string); s != "openid profile email offline_access" {
		t.Fatalf("refresh after roles was taken from the client: scope %q, want %q", s, "openid profile email offline_access")
	}
	// Asking for the removed scope is asking beyond the grant.
	rt, _ := body["refresh_token"].(string)
	status, body, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid roles"}}, "dyn:"+secret)
	if status != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("refresh asking for the removed scope: %d %v", status, body)
	}
	// Given back, it is issued again: the family kept it.
	dyn.Scopes = []string{"openid", "profile", "offline_access", "roles"}
	if sc, err = sso.EncodeClient(dyn, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.store.UpdateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	status, body, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "dyn:"+secret)
	if s, _ := body["scope"].(string); status != 200 || s != "openid profile email offline_access roles" {
		t.Fatalf("refresh after roles was given back: %d %v", status, body)
	}
}
