package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestCORS: an API endpoint allows an Origin only when the requesting client registered it;
// preflights are answered for any registered origin; credentials are never allowed.
func TestCORS(t *testing.T) {
	h := newHarness(t)
	code := func() (string, string) {
		verifier, challenge := pkce()
		cfg := h.oauth2Config("spa", "", "https://spa.example/cb", "openid")
		u := h.signIn(cfg.AuthCodeURL("s", oauthParam("code_challenge", challenge), oauthParam("code_challenge_method", "S256")), "alice")
		return u.Query().Get("code"), verifier
	}
	exchange := func(origin string) *http.Response {
		c, v := code()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {"https://spa.example/cb"},
			"code_verifier": {v}, "client_id": {"spa"}}
		return h.do(http.MethodPost, sso.PathToken, strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "Origin", origin)
	}
	t.Run("registered origin", func(t *testing.T) {
		resp := exchange("https://spa.example")
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("other origin", func(t *testing.T) {
		resp := exchange("https://evil.example")
		body := decodeJSON(t, resp)
		if resp.StatusCode != 403 || body["error"] != "invalid_request" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("got %d %v %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		for origin, allowed := range map[string]bool{"https://spa.example": true, "https://evil.example": false} {
			resp := h.do(http.MethodOptions, sso.PathToken, nil, "Origin", origin, "Access-Control-Request-Method", "POST")
			got := resp.Header.Get("Access-Control-Allow-Origin")
			if resp.StatusCode != 204 || (got == origin) != allowed {
				t.Fatalf("preflight from %s: %d %q", origin, resp.StatusCode, got)
			}
		}
	})
}

// TestRefreshGrace: with a reuse grace, a client retrying the same rotation at once gets the
// same successor instead of losing the family.
func TestRefreshGrace(t *testing.T) {
	h := newHarness(t, func(c *sso.Config) { c.Lifetimes.RefreshGrace = sso.MaxRefreshGrace })
	tok := h.tokens("alice", "openid", "offline_access")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	status, first, _ := h.token(form, "web:"+webSecret)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, first)
	}
	status, retry, _ := h.token(form, "web:"+webSecret)
	if status != 200 || retry["refresh_token"] != first["refresh_token"] {
		t.Fatalf("retry within the grace: %d %v, want the same successor", status, retry)
	}
	if status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}, "web:"+webSecret); status != 200 {
		t.Fatalf("the successor: %d %v", status, body)
	}
}

// TestNewRejectsBadConfig: New names what is wrong.
func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*sso.Config)
		want string
	}{
		{"grace too long", func(c *sso.Config) { c.Lifetimes.RefreshGrace = 2 * sso.MaxRefreshGrace }, "grace"},
		{"short rotate key", func(c *sso.Config) { c.RotateKey = []byte("short") }, "RotateKey"},
		{"short sid key", func(c *sso.Config) { c.SIDKey = nil }, "SIDKey"},
		{"no login URL", func(c *sso.Config) { c.LoginURL = nil }, "LoginURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newProviderErr(t, tc.mod)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
