package sso_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// TestClientScopesAgree: what a client may ask for is the same at every sign-in and at the
// refresh: the scopes the provider serves (Config.SupportedScopes) and the client's own
// (clients[].scopes), once each; of these, openid and the standard OIDC scopes (profile, email,
// phone, address, offline_access) always, any other only while the client's scopes name it; a
// scope it may not ask for is dropped (RFC 6749 3.3: the granted scope is answered). Here a
// client whose scopes are only openid and roles asks, on a provider serving openid, profile,
// email and offline_access, for email, phone (not served), roles and a custom scope, at the
// authorization endpoint (code flow) and at the device authorization endpoint, and refreshes:
// each keeps openid email roles offline_access. The refresh narrows further only when the
// client's scopes change (TestRefreshKeepsToTheClientsScopes). Before, the device grant (and
// the password grant: grantScopes) kept phone, which authorize drops, and kept repeated scopes
// without authorize's bounds (100 asked, 32 kept, 128 bytes each).
func TestClientScopesAgree(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	secret := strings.Repeat("e", 32)
	c := &sso.ClientConfig{ID: "narrow", Name: "Narrow", SecretHash: sso.HashSecret(secret), RedirectURIs: []string{webRedirect},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantDeviceCode},
		Scopes:     []string{"openid", "roles"}, Trusted: true}
	c.FillDefaults()
	sc, err := sso.EncodeClient(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the registry looks for changes every second
	asked := []string{"openid", "email", "phone", "roles", "offline_access", "chapter"}
	const want = "openid email roles offline_access"

	// Sign-in through the authorization endpoint.
	cfg := h.oauth2Config("narrow", secret, webRedirect, asked...)
	verifier, challenge := pkce()
	u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
	tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != want {
		t.Fatalf("code flow: scope %v, want %q", got, want)
	}
	// The refresh of that grant.
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "narrow:"+secret)
	if s, _ := body["scope"].(string); status != 200 || s != want {
		t.Fatalf("refresh: %d scope %q, want %q (%v)", status, s, want, body)
	}
	// Sign-in of a device: the scopes its authorization keeps.
	resp := h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {strings.Join(asked, " ")}}, "narrow:"+secret)
	da := decodeJSON(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("device authorization: %d %v", resp.StatusCode, da)
	}
	d, _, err := h.p.DeviceLogin(ctx, da["user_code"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Scopes, " "); got != want {
		t.Fatalf("device authorization: scopes %q, want %q", got, want)
	}
	// Within authorize's bounds: more than 100 scopes asked is invalid_scope, not stored.
	resp = h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {strings.Repeat("email ", 101)}}, "narrow:"+secret)
	if body := decodeJSON(t, resp); resp.StatusCode != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("device authorization asking 101 scopes: %d %v", resp.StatusCode, body)
	}
}
