package sso_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// signAs signs claims with the harness provider's own RS256 key under the JOSE typ (none when
// ""): any token this provider could have issued.
func signAs(t *testing.T, h *harness, typ jose.ContentType, claims map[string]any) string {
	t.Helper()
	key, err := h.p.Keys().SigningKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), key.ID())
	if typ != "" {
		opts = opts.WithType(typ)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: key.Key()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// TestAuthorizeHintMustBeAnIDToken: /authorize takes as id_token_hint only an ID token this
// provider issued (OIDC Core 3.1.2.1: "ID Token previously issued by the Authorization
// Server"). A JWT access token (typ at+jwt), a logout token, or a JWS typed JWT without what
// every ID token carries, signed with the provider's own key, names nobody: op answers it as
// any invalid hint, login_required on the client's redirect URI (with iss and state), and no
// sign-in request is stored with its subject. A real ID token, also an expired one (3.1.2.1
// allows it), still names its member; an unregistered redirect URI still gets the error page,
// never a redirect.
func TestAuthorizeHintMustBeAnIDToken(t *testing.T) {
	h := newHarness(t, withErrorPage)
	tok := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	now := time.Now()
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": h.issuer, "sub": "alice", "aud": []string{"web"}, "azp": "web",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	events := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	for _, tc := range []struct {
		name, hint string
		ok         bool // the request goes on to sign-in with the hint's subject
	}{
		{"ID token", idt, true},
		{"ID token shape, typ JWT", signAs(t, h, "JWT", base(nil)), true},
		{"ID token shape, no typ", signAs(t, h, "", base(nil)), true},
		{"expired ID token", signAs(t, h, "JWT", base(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})), true},
		{"access token", signAs(t, h, sso.TypeAccessTokenJWT, base(map[string]any{"client_id": "web", "jti": "x", "scope": "openid"})), false},
		{"access token typ in another case", signAs(t, h, "AT+JWT", base(map[string]any{"client_id": "web"})), false},
		{"logout token", signAs(t, h, sso.LogoutTokenType, base(map[string]any{"events": events})), false},
		{"logout token typed JWT", signAs(t, h, "JWT", base(map[string]any{"events": events})), false},
		{"no expiry", signAs(t, h, "JWT", base(map[string]any{"exp": nil})), false},
		{"no audience", signAs(t, h, "JWT", base(map[string]any{"aud": nil})), false},
		{"no iat", signAs(t, h, "JWT", base(map[string]any{"iat": nil})), false},
		{"other typ", signAs(t, h, "secevent+jwt", base(nil)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, challenge := pkce()
			q := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
				"id_token_hint": {tc.hint}}
			resp := h.get(sso.PathAuthorize + "?" + q.Encode())
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("got %d %q, want a redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if tc.ok {
				id := loc.Query().Get("id")
				if loc.Path != "/login" || id == "" {
					t.Fatalf("went to %s, want the login page", loc)
				}
				ar, err := h.p.AuthRequest(t.Context(), id)
				if err != nil || ar.HintSubject != "alice" {
					t.Fatalf("stored request %+v, %v: want HintSubject alice", ar, err)
				}
				return
			}
			if !strings.HasPrefix(loc.String(), webRedirect+"?") {
				t.Fatalf("went to %s, want the client's redirect URI with an error", loc)
			}
			if got := loc.Query().Get("error"); got != "login_required" {
				t.Errorf("error %q (%s), want login_required", got, loc.Query().Get("error_description"))
			}
			if loc.Query().Get("state") != "st" || loc.Query().Get("iss") != h.issuer {
				t.Errorf("error redirect %s lacks state or iss", loc)
			}
		})
	}
	t.Run("unregistered redirect", func(t *testing.T) {
		q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, "id_token_hint": {signAs(t, h, sso.TypeAccessTokenJWT, base(nil))}}
		resp := h.get(sso.PathAuthorize + "?" + q.Encode())
		resp.Body.Close()
		if resp.StatusCode == http.StatusFound {
			t.Fatalf("redirected to %q, want the error page", resp.Header.Get("Location"))
		}
	})
}
