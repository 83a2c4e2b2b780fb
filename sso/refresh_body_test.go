package sso_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRefreshResponseMatchesEncoder: the refresh grant's response, written straight into a
// pooled buffer with the ID token signed in place (tokenResponse), is byte for byte what
// encoding/json's Encoder writes for the same response, refresh after refresh (the buffers
// reused), also with a narrowed scope; the ID token verifies and has its sid and at_hash; the
// headers are the token endpoint's.
func TestRefreshResponseMatchesEncoder(t *testing.T) {
	h := newHarness(t)
	prov, err := gooidc.NewProvider(t.Context(), h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&gooidc.Config{ClientID: "web"})
	const granted = "openid profile offline_access"
	rt := h.tokens("alice", strings.Fields(granted)...).RefreshToken
	for i, scope := range []string{"", "", "openid offline_access", ""} {
		form := "grant_type=refresh_token&refresh_token=" + rt
		if scope != "" {
			form += "&scope=" + strings.ReplaceAll(scope, " ", "+")
		}
		req := httptest.NewRequest(http.MethodPost, h.issuer+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", webSecret)
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("refresh %d: %d %s", i, rec.Code, rec.Body)
		}
		var resp oidc.AccessTokenResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.IDToken == "" || resp.AccessToken == "" || resp.RefreshToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn == 0 {
			t.Fatalf("refresh %d: incomplete response %s", i, rec.Body)
		}
		if want := cmp.Or(scope, granted); strings.Join(resp.Scope, " ") != want {
			t.Fatalf("refresh %d: scope %q, want %q", i, resp.Scope, want)
		}
		idt, err := verifier.Verify(t.Context(), resp.IDToken)
		if err != nil {
			t.Fatalf("refresh %d: ID token: %v", i, err)
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil || idt.Subject != "alice" || claims["sid"] == nil || claims["at_hash"] == nil {
			t.Fatalf("refresh %d: ID token claims %v, %v", i, claims, err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(&resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want.Bytes()) {
			t.Fatalf("refresh %d:\n got %s\nwant %s", i, rec.Body.Bytes(), want.Bytes())
		}
		if hd := rec.Header(); hd.Get("Content-Type") != "application/json" || hd.Get("Cache-Control") != "no-store" || hd.Get("Pragma") != "no-cache" {
			t.Fatalf("refresh %d: headers %v", i, hd)
		}
		rt = resp.RefreshToken
	}
}

// TestGrantResponsesMatchEncoder: every grant that issues through tokenResponse (the code,
// password and token exchange grants; refresh above) answers byte for byte what
// encoding/json's Encoder writes for the same response (the token exchange's with its
// issued_token_type after the response's own members), the ID token present where openid was
// granted and verifying.
func TestGrantResponsesMatchEncoder(t *testing.T) {
	h := newHarness(t)
	prov, err := gooidc.NewProvider(t.Context(), h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&gooidc.Config{ClientID: "web"})
	code, codeVerifier := h.code("alice", "openid", "profile", "offline_access")
	for _, c := range []struct {
		name     string
		form     url.Values
		exchange bool
	}{
		{"authorization_code", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {codeVerifier}}, false},
		{"password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}, "scope": {"openid offline_access"}}, false},
		{"token_exchange", url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"ams:alice"}, "subject_token_type": {amsTokenType},
			"scope": {"openid offline_access"}}, true},
		{"token_exchange without a refresh token", url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"ams:alice"}, "subject_token_type": {amsTokenType},
			"scope": {"openid"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := h.post(sso.PathToken, c.form, "web:"+webSecret)
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s %v", resp.StatusCode, got, err)
			}
			var r struct {
				*oidc.AccessTokenResponse
				IssuedTokenType string `json:"issued_token_type"`
			}
			if err := json.Unmarshal(got, &r); err != nil {
				t.Fatal(err)
			}
			if r.IDToken == "" || r.AccessToken == "" {
				t.Fatalf("incomplete response %s", got)
			}
			if _, err := verifier.Verify(t.Context(), r.IDToken); err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var v any = r.AccessTokenResponse
			if c.exchange {
				if r.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
					t.Fatalf("issued_token_type %q", r.IssuedTokenType)
				}
				v = r
			}
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(v); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
			}
		})
	}
}
