package sso_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// TestEndSessionHintMustBeAnIDToken: end_session takes id_token_hint only from an ID token (OIDC
// RP-Initiated Logout 1.0 section 2: the OP must not accept an access token or any other token
// as the hint). A JWT access token (typ at+jwt, RFC 9068 2.1), even one without a scope claim,
// or a logout token (typ logout+jwt, or an events claim), signed with the provider's own key,
// names nobody: the logout page gets no member and no client from it (the member is asked to
// confirm). A real ID token still names its member.
func TestEndSessionHintMustBeAnIDToken(t *testing.T) {
	h := newHarness(t, withErrorPage)
	tok := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	now := time.Now()
	sign := func(typ jose.ContentType, claims map[string]any) string { return signAs(t, h, typ, claims) }
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": h.issuer, "sub": "alice", "aud": []string{"web"}, "azp": "web",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name, hint string
		user       string // the member the logout page is given
	}{
		{"ID token", idt, "alice"},
		{"ID token shape, typ JWT", sign("JWT", base(nil)), "alice"},
		{"ID token shape, no typ", sign("", base(nil)), "alice"},
		{"access token without scope", sign(sso.TypeAccessTokenJWT, base(map[string]any{"client_id": "web", "jti": "x"})), ""},
		{"access token with scope", sign(sso.TypeAccessTokenJWT, base(map[string]any{"client_id": "web", "jti": "x", "scope": "openid"})), ""},
		{"access token typ in another case", sign("AT+JWT", base(map[string]any{"client_id": "web"})), ""},
		{"logout token", sign(sso.LogoutTokenType, base(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})), ""},
		{"logout token typed JWT", sign("JWT", base(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})), ""},
		{"no expiry (not an ID token)", sign("JWT", func() map[string]any { c := base(nil); delete(c, "exp"); return c }()), ""},
		{"no audience (not an ID token)", sign("JWT", func() map[string]any { c := base(nil); delete(c, "aud"); return c }()), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.get(sso.PathEndSession + "?" + url.Values{"id_token_hint": {tc.hint}}.Encode())
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != 302 || err != nil || !strings.HasPrefix(loc.Path, "/logged-out") {
				t.Fatalf("got %d %q, want the logout page", resp.StatusCode, resp.Header.Get("Location"))
			}
			if got := loc.Query().Get("user"); got != tc.user {
				t.Errorf("the logout page was given member %q, want %q", got, tc.user)
			}
			if tc.user == "" && loc.Query().Get("client") != "" {
				t.Errorf("the logout page was given client %q from a hint that is no ID token", loc.Query().Get("client"))
			}
		})
	}
}

// TestParameterInAnotherCaseRefused: op's decoder reads a parameter's name in any case; an
// access token sent as ID_TOKEN_HINT next to a checked id_token_hint (before or after it) is
// the parameter repeated, refused as a repeated one is, not taken by op in place of the hint
// this provider checked. The same for the authorization request.
func TestParameterInAnotherCaseRefused(t *testing.T) {
	h := newHarness(t, withErrorPage)
	tok := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	now := time.Now()
	access := signAs(t, h, sso.TypeAccessTokenJWT, map[string]any{"iss": h.issuer, "sub": "bob", "aud": []string{"web"},
		"client_id": "web", "jti": "x", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	for _, path := range []string{
		sso.PathEndSession + "?id_token_hint=" + url.QueryEscape(idt) + "&ID_TOKEN_HINT=" + url.QueryEscape(access),
		sso.PathEndSession + "?ID_TOKEN_HINT=" + url.QueryEscape(access) + "&id_token_hint=" + url.QueryEscape(idt),
		sso.PathAuthorize + "?client_id=web&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(webRedirect) +
			"&Redirect_Uri=" + url.QueryEscape("https://elsewhere.example/cb"),
	} {
		resp := h.get(path)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "repeats the parameter") {
			t.Errorf("%.60s: got %d %q, want the repeated-parameter refusal", path, resp.StatusCode, body)
		}
	}
}

// TestParameterAloneInAnotherCaseRefused: a parameter op reads, named in another case without
// the name as specified next to it, would reach op's decoder (which matches any case) past the
// provider's own checks of the name as specified: an access token as ID_TOKEN_HINT past the
// ID-token check, a Redirect_Uri past the loopback check, a Max_Age past the early max_age
// check. All are refused. Before, op took them: the sign-out failed on the access token as its
// hint (the member left signed in, not asked to confirm), the sign-in went on to the login
// page with op's redirect_uri, and op failed to decode the Max_Age.
func TestParameterAloneInAnotherCaseRefused(t *testing.T) {
	h := newHarness(t, withErrorPage)
	now := time.Now()
	access := signAs(t, h, sso.TypeAccessTokenJWT, map[string]any{"iss": h.issuer, "sub": "bob", "aud": []string{"web"},
		"client_id": "web", "jti": "x", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	for _, path := range []string{
		sso.PathEndSession + "?ID_TOKEN_HINT=" + url.QueryEscape(access),
		sso.PathAuthorize + "?client_id=web&response_type=code&scope=openid&Redirect_Uri=" + url.QueryEscape(webRedirect),
		sso.PathAuthorize + "?client_id=web&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(webRedirect) + "&Max_Age=x",
	} {
		resp := h.get(path)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "in another case") {
			t.Errorf("%.70s: got %d %q, want the refusal of a name in another case", path, resp.StatusCode, body)
		}
	}
}
