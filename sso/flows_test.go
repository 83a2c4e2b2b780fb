package sso_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// TestCodeFlow runs the authorization code flow with x/oauth2 and verifies the ID token with
// go-oidc through discovery and JWKS: the relying party's whole view.
func TestCodeFlow(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	verifier, challenge := pkce()
	cfg := h.oauth2Config("web", webSecret, webRedirect, "openid", "email", "offline_access")
	redirect := h.signIn(cfg.AuthCodeURL("xyz", oauth2.SetAuthURLParam("nonce", "n-1"),
		oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
	q := redirect.Query()
	if q.Get("state") != "xyz" || q.Get("iss") != h.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %s: want code, state and iss (RFC 9207)", redirect)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	prov, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "alice" || idt.Nonce != "n-1" || claims["at_hash"] == nil || claims["sid"] == nil {
		t.Fatalf("ID token claims: %v", claims)
	}
	// OIDC Core 3.3.2.11 and 2: no c_hash from the token endpoint, no client_id claim.
	for _, k := range []string{"c_hash", "client_id"} {
		if _, ok := claims[k]; ok {
			t.Errorf("ID token has %s: %v", k, claims)
		}
	}
	info, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "alice" || info.Email != "alice@example.org" {
		t.Fatalf("userinfo: %+v", info)
	}
}

// TestCodeSingleUse: a code is exchanged once; the replay is invalid_grant and revokes what
// the code issued (RFC 6749 4.1.2).
func TestCodeSingleUse(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("alice", "openid")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	status, first, _ := h.token(form, "web:"+webSecret)
	if status != 200 {
		t.Fatalf("first exchange: %d %v", status, first)
	}
	status, second, _ := h.token(form, "web:"+webSecret)
	if status != 400 || second["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %v", status, second)
	}
	if h.introspect(first["access_token"].(string))["active"] != false {
		t.Fatal("the access token of a replayed code is still active")
	}
	if !h.hooks.sawEvent("token.code_replay") {
		t.Fatal("no token.code_replay event")
	}
}

// TestCodeOfEndedSession: a code whose sign-in session has ended gives nothing.
func TestCodeOfEndedSession(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("alice", "openid")
	ss, err := h.store.Sessions(t.Context(), "alice")
	if err != nil || len(ss) != 1 {
		t.Fatalf("sessions: %v %v", ss, err)
	}
	if err := h.store.EndSession(t.Context(), ss[0].ID); err != nil {
		t.Fatal(err)
	}
	status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
		"code_verifier": {verifier}}, "web:"+webSecret)
	if status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("code of an ended session: %d %v", status, body)
	}
}

// TestPKCE: S256 is checked at the token endpoint; a public client must use it.
func TestPKCE(t *testing.T) {
	h := newHarness(t)
	t.Run("verifier", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			verifier func(string) string
			status   int
			code     string
		}{
			{"right", func(v string) string { return v }, 200, ""},
			{"wrong", func(string) string { return oauth2.GenerateVerifier() }, 400, "invalid_grant"},
			{"missing", func(string) string { return "" }, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, verifier := h.code("alice", "openid")
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}
				if v := tc.verifier(verifier); v != "" {
					form.Set("code_verifier", v)
				}
				status, body, _ := h.token(form, "web:"+webSecret)
				if status != tc.status || (status == 400 && body["error"] != tc.code) {
					t.Fatalf("got %d %v, want %d", status, body, tc.status)
				}
			})
		}
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		cfg := h.oauth2Config("spa", "", "https://spa.example/cb", "openid")
		resp := h.get(cfg.AuthCodeURL("s"))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("iss") != h.issuer {
			t.Fatalf("authorize without PKCE: %d %s", resp.StatusCode, loc)
		}
	})
	t.Run("public client with PKCE", func(t *testing.T) {
		verifier, challenge := pkce()
		cfg := h.oauth2Config("spa", "", "https://spa.example/cb", "openid")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		u := h.signIn(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "bob")
		_ = challenge
		if _, err := cfg.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRefreshIDTokenOmitted: a client with OmitIDTokenOnRefresh gets an ID token from the code
// exchange but none from a refresh (OIDC Core 12.2); other clients get one (TestRefreshRotation).
func TestRefreshIDTokenOmitted(t *testing.T) {
	h := newHarness(t)
	verifier, challenge := pkce()
	cfg := h.oauth2Config("quiet", webSecret, webRedirect, "openid", "offline_access")
	u := h.signIn(cfg.AuthCodeURL("st", oauthParam("code_challenge", challenge), oauthParam("code_challenge_method", "S256")), "alice")
	tok, err := cfg.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("id_token") == nil {
		t.Fatal("the code exchange gave no ID token")
	}
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "quiet:"+webSecret)
	if status != 200 || body["access_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if _, ok := body["id_token"]; ok {
		t.Fatalf("refresh response of a client that omits it has an ID token: %v", body)
	}
}

// TestRefreshRotation: every refresh rotates the token; presenting a rotated one again revokes
// the whole family (RFC 9700 4.14.2), and a member who may no longer use the app gets nothing.
func TestRefreshRotation(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tok := h.tokens("alice", "openid", "offline_access")
	refresh := func(rt string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web:"+webSecret)
		return status, body
	}
	status, second := refresh(tok.RefreshToken)
	if status != 200 || second["refresh_token"] == tok.RefreshToken || second["id_token"] == nil {
		t.Fatalf("refresh: %d %v", status, second)
	}
	status, third := refresh(second["refresh_token"].(string))
	if status != 200 {
		t.Fatalf("second refresh: %d %v", status, third)
	}
	// The first token again: reuse.
	// Each answer says why (issue 14: op's wrapping left error_description empty).
	if status, body := refresh(tok.RefreshToken); status != 400 || body["error"] != "invalid_grant" ||
		body["error_description"] != "refresh token already used; the grant has been revoked" {
		t.Fatalf("reused refresh token: %d %v", status, body)
	}
	if status, body := refresh(third["refresh_token"].(string)); status != 400 || body["error"] != "invalid_grant" ||
		body["error_description"] != "refresh token revoked" {
		t.Fatalf("current token of a revoked family: %d %v", status, body)
	}
	if status, body := refresh("not-a-refresh-token"); status != 400 || body["error"] != "invalid_grant" ||
		body["error_description"] != "invalid or expired refresh token" {
		t.Fatalf("unknown refresh token: %d %v", status, body)
	}
	if h.introspect(third["access_token"].(string))["active"] != false {
		t.Fatal("an access token of a revoked family is active")
	}
	if !h.hooks.sawEvent("token.refresh_reuse") {
		t.Fatalf("no token.refresh_reuse event in %v", h.hooks.events)
	}
	t.Run("member no longer allowed", func(t *testing.T) {
		tok := h.tokens("carol", "openid", "offline_access")
		h.hooks.deny("carol")
		if status, body := refresh(tok.RefreshToken); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("refresh of a denied member: %d %v", status, body)
		}
	})
	t.Run("another client's token", func(t *testing.T) {
		tok := h.tokens("dave", "openid", "offline_access")
		status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "tv:"+webSecret)
		if status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("refresh by another client: %d %v", status, body)
		}
	})
	_ = ctx
}

// TestRefreshFamilyGenerations: a family is one stored row; its tokens name it and their
// generation. A token several generations old is recognised as the family's (reuse: the family
// is revoked), a made-up token naming the family is not (nothing happens to the family), and an
// access token revoked on its own leaves the family's refresh token working.
func TestRefreshFamilyGenerations(t *testing.T) {
	h := newHarness(t)
	refresh := func(rt string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web:"+webSecret)
		return status, body
	}
	tok := h.tokens("alice", "openid", "offline_access")
	family, _, _ := strings.Cut(tok.RefreshToken, ".")
	chain := []string{tok.RefreshToken}
	var last map[string]any
	for range 3 {
		status, body := refresh(chain[len(chain)-1])
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, body)
		}
		chain, last = append(chain, body["refresh_token"].(string)), body
	}
	for i, rt := range chain {
		if !strings.HasPrefix(rt, family+"."+strconv.Itoa(i)+".") {
			t.Fatalf("refresh token %d = %q, want family %s generation %d", i, rt, family, i)
		}
	}
	if rows := familyRows(t, h, "alice"); rows != 1 {
		t.Fatalf("%d stored families after three rotations, want 1", rows)
	}

	// A made-up token of the family, current or old generation: refused, family untouched.
	for _, forged := range []string{family + ".3." + sso.RandomToken(), family + ".1." + sso.RandomToken(), family + ".9." + sso.RandomToken()} {
		if status, body := refresh(forged); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("forged token %q: %d %v", forged, status, body)
		}
	}
	if h.introspect(last["access_token"].(string))["active"] != true {
		t.Fatal("a forged token revoked the family")
	}

	// An access token revoked on its own (RFC 7009): inactive, and the family still refreshes.
	resp := h.post(sso.PathRevoke, url.Values{"token": {last["access_token"].(string)}, "token_type_hint": {"access_token"}}, "web:"+webSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke access token: %d", resp.StatusCode)
	}
	if h.introspect(last["access_token"].(string))["active"] != false {
		t.Fatal("a revoked access token is active")
	}
	status, next := refresh(chain[3])
	if status != 200 || h.introspect(next["access_token"].(string))["active"] != true {
		t.Fatalf("refresh after an access token revocation: %d %v", status, next)
	}

	// The first token, four generations back: reuse, the family is revoked.
	if status, body := refresh(chain[0]); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reused old token: %d %v", status, body)
	}
	if h.introspect(next["access_token"].(string))["active"] != false {
		t.Fatal("an access token of a family revoked for reuse is active")
	}
	if status, _ := refresh(next["refresh_token"].(string)); status != 400 {
		t.Fatal("the current token of a family revoked for reuse refreshed")
	}

	// Revoking a member's grants (sign-out everywhere, deactivation) kills access tokens issued
	// without a refresh token too.
	plain := h.tokens("bob", "openid")
	if h.introspect(plain.AccessToken)["active"] != true {
		t.Fatal("access token without a refresh token inactive")
	}
	if _, err := h.p.RevokeGrants(t.Context(), "bob", ""); err != nil {
		t.Fatal(err)
	}
	if h.introspect(plain.AccessToken)["active"] != false {
		t.Fatal("access token of a revoked member active")
	}
}

// familyRows counts the families stored for subject, with or without a refresh token.
func familyRows(t *testing.T, h *harness, subject string) int {
	t.Helper()
	l, err := h.store.ListRefreshTokens(t.Context(), subject, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// legacyStore answers LegacyRefreshToken for one token, as a store migrated from the layout
// before families does for the refresh tokens it held.
type legacyStore struct {
	*memstore.Store
	hash, family string
}

func (s legacyStore) LegacyRefreshToken(ctx context.Context, hash string) (*sso.RefreshToken, error) {
	if hash != s.hash {
		return nil, sso.ErrNotFound
	}
	return s.Family(ctx, s.family)
}

// TestLegacyRefreshToken: a refresh token issued before families (no family in it) still
// refreshes once migrated, into the family's generation 1, and is reuse afterwards.
func TestLegacyRefreshToken(t *testing.T) {
	legacy := sso.RandomToken()
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store {
		return legacyStore{Store: st, hash: sso.HashToken(legacy), family: "fam-legacy"}
	})
	now := time.Now()
	if err := h.store.IssueTokens(t.Context(), sso.Issue{Family: &sso.RefreshToken{Hash: sso.HashToken(legacy), FamilyID: "fam-legacy",
		ClientID: "web", Subject: "alice", Audience: []string{"web"}, Scopes: []string{"openid", "offline_access"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {legacy}}, "web:"+webSecret)
	if status != 200 || !strings.HasPrefix(body["refresh_token"].(string), "fam-legacy.1.") || body["id_token"] == nil {
		t.Fatalf("refresh with a legacy token: %d %v", status, body)
	}
	if h.introspect(body["access_token"].(string))["sub"] != "alice" {
		t.Fatal("access token of a migrated family inactive")
	}
	status, again, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {legacy}}, "web:"+webSecret)
	if status != 400 || again["error"] != "invalid_grant" {
		t.Fatalf("legacy token reused: %d %v", status, again)
	}
	if f, err := h.store.Family(t.Context(), "fam-legacy"); err != nil || !f.Revoked {
		t.Fatalf("family after the legacy token's reuse: %+v %v", f, err)
	}
}

func (h *harness) introspect(token string) map[string]any {
	h.t.Helper()
	resp := h.post(sso.PathIntrospect, url.Values{"token": {token}}, "web:"+webSecret)
	if resp.StatusCode != 200 {
		h.t.Fatalf("introspect: %d", resp.StatusCode)
	}
	return decodeJSON(h.t, resp)
}

// TestIntrospectionRevocation: RFC 7662 and RFC 7009 for the client that holds the token.
func TestIntrospectionRevocation(t *testing.T) {
	h := newHarness(t)
	tok := h.tokens("alice", "openid", "offline_access")
	got := h.introspect(tok.AccessToken)
	if got["active"] != true || got["sub"] != "alice" || got["client_id"] != "web" {
		t.Fatalf("introspection: %v", got)
	}
	if h.introspect("garbage")["active"] != false {
		t.Fatal("garbage is active")
	}
	// A public client may not introspect (RFC 7662 2.1).
	resp := h.post(sso.PathIntrospect, url.Values{"token": {tok.AccessToken}, "client_id": {"spa"}}, "")
	if body := decodeJSON(t, resp); resp.StatusCode != 401 || body["error"] != "invalid_client" {
		t.Fatalf("public introspection: %d %v", resp.StatusCode, body)
	}
	resp = h.post(sso.PathRevoke, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, "web:"+webSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "web:"+webSecret)
	if status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("revoked refresh token: %d %v", status, body)
	}
	resp = h.post(sso.PathRevoke, url.Values{"token": {tok.AccessToken}}, "web:"+webSecret)
	if resp.StatusCode != 200 || h.introspect(tok.AccessToken)["active"] != false {
		t.Fatalf("revoked access token: %d", resp.StatusCode)
	}
	// Revoking an unknown token is not an error (RFC 7009 2.2).
	if resp := h.post(sso.PathRevoke, url.Values{"token": {"unknown"}}, "web:"+webSecret); resp.StatusCode != 200 {
		t.Fatalf("revoke unknown: %d", resp.StatusCode)
	}
}

// TestUserinfoErrors: RFC 6750 3 answers.
func TestUserinfoErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, path, authz string
		status            int
		code              string
	}{
		{"no token", sso.PathUserinfo, "", 401, "invalid_request"},
		{"bad token", sso.PathUserinfo, "Bearer nope", 401, "invalid_token"},
		{"token in the URL", sso.PathUserinfo + "?access_token=x", "", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.authz != "" {
				resp = h.get(tc.path, "Authorization", tc.authz)
			} else {
				resp = h.get(tc.path)
			}
			body := decodeJSON(t, resp)
			if resp.StatusCode != tc.status || body["error"] != tc.code || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("got %d %v %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestDiscovery pins the discovery document: what the provider really serves, nothing else.
func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	resp := h.get(sso.PathDiscovery)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("discovery: %d %v", resp.StatusCode, resp.Header)
	}
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	list := func(k string) []string {
		var out []string
		for _, v := range d[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for k, want := range map[string]string{
		"issuer": h.issuer, "authorization_endpoint": h.issuer + sso.PathAuthorize, "token_endpoint": h.issuer + sso.PathToken,
		"userinfo_endpoint": h.issuer + sso.PathUserinfo, "jwks_uri": h.issuer + sso.PathKeys,
		"revocation_endpoint": h.issuer + sso.PathRevoke, "introspection_endpoint": h.issuer + sso.PathIntrospect,
		"end_session_endpoint": h.issuer + sso.PathEndSession, "device_authorization_endpoint": h.issuer + sso.PathDeviceAuthzEP,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	for k, want := range map[string][]string{
		"grant_types_supported":                         {"authorization_code", "refresh_token", "client_credentials", sso.GrantDeviceCode, sso.GrantTokenExchange},
		"response_types_supported":                      {"code"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":              {"S256"},
	} {
		if got := list(k); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[string]bool{
		"authorization_response_iss_parameter_supported": true, "backchannel_logout_supported": true,
		"backchannel_logout_session_supported": true, "frontchannel_logout_supported": true, "frontchannel_logout_session_supported": true,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_signing_alg_values_supported",
		"revocation_endpoint_auth_signing_alg_values_supported"} {
		if _, ok := d[k]; ok {
			t.Errorf("discovery advertises %s", k)
		}
	}
	if !slices.Contains(list("id_token_signing_alg_values_supported"), "ES256") {
		t.Errorf("id_token_signing_alg_values_supported = %v", d["id_token_signing_alg_values_supported"])
	}
	if r := h.post(sso.PathDiscovery, url.Values{}, ""); r.StatusCode != 405 {
		t.Errorf("POST discovery: %d", r.StatusCode)
	}
}

// TestJWKS: every signing algorithm's public key, cacheable, and nothing private.
func TestJWKS(t *testing.T) {
	h := newHarness(t)
	resp := h.get(sso.PathKeys)
	b, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var algs []string
	for _, k := range set.Keys {
		algs = append(algs, k["alg"].(string))
		if k["use"] != "sig" || k["kid"] == "" || k["d"] != nil {
			t.Errorf("key %v", k)
		}
	}
	slices.Sort(algs)
	if !slices.Equal(algs, []string{"ES256", "RS256"}) || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("JWKS algs %v, Cache-Control %q", algs, resp.Header.Get("Cache-Control"))
	}
}

// TestPasswordGrant: a legacy opt-in; a third-party client needs the member's consent first.
func TestPasswordGrant(t *testing.T) {
	h := newHarness(t)
	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}, "scope": {scope}}
	}
	status, body, _ := h.token(form("openid offline_access"), "web:"+webSecret)
	if status != 200 || body["refresh_token"] == nil || body["id_token"] == nil {
		t.Fatalf("password grant: %d %v", status, body)
	}
	// Scopes the client does not have are left out (RFC 6749 3.3), not refused.
	status, body, _ = h.token(form("openid admin"), "web:"+webSecret)
	if status != 200 || body["scope"] != "openid" {
		t.Fatalf("password grant with an unknown scope: %d %v", status, body)
	}
	status, body, _ = h.token(form("openid"), "third:"+webSecret)
	if status != 400 || body["error"] != "invalid_scope" || !h.hooks.sawEvent("token.consent_required") {
		t.Fatalf("third party without consent: %d %v", status, body)
	}
	h.hooks.consent["alice|third"] = true
	if status, body, _ = h.token(form("openid"), "third:"+webSecret); status != 200 {
		t.Fatalf("third party with consent: %d %v", status, body)
	}
	h.hooks.deny("alice")
	if status, body, _ = h.token(form("openid"), "web:"+webSecret); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("denied member: %d %v", status, body)
	}
}

// TestTokenExchange: RFC 8693 exchange of an AMS token.
func TestTokenExchange(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"ams:alice"}, "subject_token_type": {amsTokenType},
		"scope": {"openid offline_access"}}
	status, body, _ := h.token(form, "web:"+webSecret)
	if status != 200 || body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, body)
	}
	form.Set("requested_token_type", "urn:ietf:params:oauth:token-type:access_token")
	if status, body, _ = h.token(form, "web:"+webSecret); status != 200 || body["refresh_token"] != nil {
		t.Fatalf("exchange for an access token only: %d %v", status, body)
	}
	form.Set("requested_token_type", "urn:ietf:params:oauth:token-type:id_token")
	if status, body, _ = h.token(form, "web:"+webSecret); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("exchange for an id_token: %d %v", status, body)
	}
	// Only access tokens are issued in access_token (RFC 8693 2.2.1): a request for a refresh
	// token there is refused, with or without offline_access (review s19 X19-6).
	form.Set("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")
	for _, scope := range []string{"openid offline_access", "openid"} {
		form.Set("scope", scope)
		if status, body, _ = h.token(form, "web:"+webSecret); status != 400 || body["error"] != "invalid_request" {
			t.Fatalf("scope %q: exchange for a refresh token: %d %v", scope, status, body)
		}
	}
}

// TestDeviceFlow walks the device authorization grant through each state (RFC 8628 3.5).
func TestDeviceFlow(t *testing.T) {
	const interval = 200 * time.Millisecond
	h := newHarness(t, func(c *sso.Config) { c.Device.Interval = interval })
	ctx := t.Context()
	tv := "tv:" + webSecret
	start := func() (deviceCode, userCode string) {
		t.Helper()
		resp := h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {"openid offline_access"}}, tv)
		body := decodeJSON(t, resp)
		if resp.StatusCode != 200 || body["verification_uri"] != h.issuer+"/device" {
			t.Fatalf("device authorization: %d %v", resp.StatusCode, body)
		}
		return body["device_code"].(string), body["user_code"].(string)
	}
	poll := func(dc, basic string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {dc}}, basic)
		return status, body
	}
	wantErr := func(what string, status int, body map[string]any, code string) {
		t.Helper()
		if status != 400 || body["error"] != code {
			t.Fatalf("%s: %d %v, want %s", what, status, body, code)
		}
	}
	// decide signs the member in for the typed user code and finishes at DonePath.
	decide := func(userCode string, approve bool) {
		t.Helper()
		_, login, err := h.p.DeviceLogin(ctx, strings.ToLower(userCode))
		if err != nil || login == "" {
			t.Fatalf("DeviceLogin: %q %v", login, err)
		}
		lu, _ := url.Parse(login)
		id := lu.Query().Get("id")
		var q url.Values
		if approve {
			now := time.Now()
			if err := h.store.CreateSession(ctx, &sso.Session{ID: "dev-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, SessionID: "dev-" + id})
			if err != nil {
				t.Fatal(err)
			}
			done, _ := url.Parse(h.get(cb).Header.Get("Location"))
			q = done.Query()
		} else {
			ar, err := h.p.AuthRequest(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			q = url.Values{"error": {"access_denied"}, "state": {ar.State}}
		}
		if _, ok, err := h.p.DeviceDone(ctx, q); err != nil || ok != approve {
			t.Fatalf("DeviceDone: %v %v", ok, err)
		}
	}

	t.Run("approved", func(t *testing.T) {
		dc, uc := start()
		status, body := poll(dc, tv)
		wantErr("first poll", status, body, "authorization_pending")
		decide(uc, true)
		time.Sleep(interval) // polling on time
		status, body = poll(dc, tv)
		if status != 200 || body["access_token"] == nil || body["refresh_token"] == nil {
			t.Fatalf("approved: %d %v", status, body)
		}
		status, body = poll(dc, tv)
		wantErr("redeemed", status, body, "invalid_grant")
	})
	t.Run("too fast", func(t *testing.T) {
		dc, uc := start()
		status, body := poll(dc, tv)
		wantErr("first poll", status, body, "authorization_pending")
		status, body = poll(dc, tv)
		wantErr("poll too fast", status, body, "slow_down")
		// A redeemed or denied code is answered at once, however fast the poll.
		decide(uc, false)
		status, body = poll(dc, tv)
		wantErr("denied, polled fast", status, body, "access_denied")
	})
	t.Run("denied", func(t *testing.T) {
		dc, uc := start()
		decide(uc, false)
		status, body := poll(dc, tv)
		wantErr("denied", status, body, "access_denied")
	})
	t.Run("a client without the grant", func(t *testing.T) {
		dc, _ := start()
		status, body := poll(dc, "web:"+webSecret)
		wantErr("web", status, body, "unauthorized_client")
	})
	t.Run("another client", func(t *testing.T) {
		dc, _ := start()
		status, body := poll(dc, "third:"+webSecret)
		wantErr("third", status, body, "invalid_grant")
	})
	// Another client's polls answer invalid_grant, however fast, and change nothing of the
	// code: not its owner's poll clock or interval (no slow_down for the owner), not its
	// approval (the owner still gets the tokens). RFC 8628 3.5, RFC 6749 5.2 invalid_grant.
	t.Run("another client leaves the code alone", func(t *testing.T) {
		dc, uc := start()
		status, body := poll(dc, tv)
		wantErr("owner's first poll", status, body, "authorization_pending")
		for i := range 3 {
			status, body = poll(dc, "third:"+webSecret)
			wantErr("third's poll at once #"+strconv.Itoa(i), status, body, "invalid_grant")
		}
		time.Sleep(interval)
		status, body = poll(dc, tv)
		wantErr("owner polling on time after third's polls", status, body, "authorization_pending")
		decide(uc, true)
		status, body = poll(dc, "third:"+webSecret)
		wantErr("third's poll of the approved code", status, body, "invalid_grant")
		time.Sleep(interval)
		status, body = poll(dc, tv)
		if status != 200 || body["access_token"] == nil {
			t.Fatalf("owner's poll after third polled the approved code: %d %v", status, body)
		}
	})
	t.Run("unknown user code", func(t *testing.T) {
		if _, _, err := h.p.DeviceLogin(ctx, "BCDF-GHJK"); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("DeviceLogin(unknown) = %v", err)
		}
	})
}

// writeCounter counts the store writes the provider makes.
type writeCounter struct {
	*memstore.Store
	mu     sync.Mutex
	writes []string
}

func (c *writeCounter) note(w string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, w)
}

func (c *writeCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

func (c *writeCounter) IssueTokens(ctx context.Context, in sso.Issue) error {
	c.note("IssueTokens")
	return c.Store.IssueTokens(ctx, in)
}

func (c *writeCounter) RevokeFamily(ctx context.Context, id string) error {
	c.note("RevokeFamily")
	return c.Store.RevokeFamily(ctx, id)
}

func (c *writeCounter) RevokeAccessToken(ctx context.Context, idHash string, exp time.Time) error {
	c.note("RevokeAccessToken")
	return c.Store.RevokeAccessToken(ctx, idHash, exp)
}

func (c *writeCounter) SaveCode(ctx context.Context, id, codeHash string, exp time.Time) error {
	c.note("SaveCode")
	return c.Store.SaveCode(ctx, id, codeHash, exp)
}

func (c *writeCounter) DeleteAuthRequest(ctx context.Context, id string) error {
	c.note("DeleteAuthRequest")
	return c.Store.DeleteAuthRequest(ctx, id)
}

func (c *writeCounter) AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error {
	c.note("AddSessionClient")
	return c.Store.AddSessionClient(ctx, id, clientID, at)
}

// TestOneWritePerGrant: the code exchange and every refresh commit one store write each (the
// grant's IssueTokens); client_credentials writes nothing.
func TestOneWritePerGrant(t *testing.T) {
	var counter *writeCounter
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store {
		counter = &writeCounter{Store: st}
		return counter
	})
	code, verifier := h.code("alice", "openid", "offline_access")
	counter.take()
	status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {webRedirect}}, "web:"+webSecret)
	if status != 200 {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	if w := counter.take(); !slices.Equal(w, []string{"IssueTokens"}) {
		t.Fatalf("code exchange wrote %v, want one IssueTokens", w)
	}
	rt := body["refresh_token"].(string)
	for range 3 {
		status, body, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web:"+webSecret)
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, body)
		}
		if w := counter.take(); !slices.Equal(w, []string{"IssueTokens"}) {
			t.Fatalf("refresh wrote %v, want one IssueTokens", w)
		}
		rt = body["refresh_token"].(string)
	}
	status, body, _ = h.token(url.Values{"grant_type": {"client_credentials"}}, "svc:"+svcSecret)
	if status != 200 {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	if w := counter.take(); len(w) != 0 {
		t.Fatalf("client_credentials wrote %v, want nothing", w)
	}
}
