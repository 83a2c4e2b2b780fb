package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestMalformedMaxAgeRedirected (review s12 W7; RFC 6749 4.1.2.1, OIDC Core 3.1.2.6): a
// request from a known client with its registered redirect_uri whose max_age is not a
// non-negative integer is answered invalid_request at the redirect_uri, with state and iss,
// not with the bridge's own error page ("error decoding form").
func TestMalformedMaxAgeRedirected(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce()
	for _, v := range []string{"-1", "abc", "99999999999999999999"} {
		cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
		resp := h.get(cfg.AuthCodeURL("st-1", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"), oauth2.SetAuthURLParam("max_age", v)))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), webRedirect) {
			t.Errorf("max_age=%s: %d Location %q, want a redirect to %s", v, resp.StatusCode, resp.Header.Get("Location"), webRedirect)
			continue
		}
		if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st-1" || q.Get("iss") != h.issuer {
			t.Errorf("max_age=%s answered %v, want error=invalid_request, state st-1, iss", v, q)
		}
	}
}

// TestMalformedCodeChallengeRedirected (review s12, X's note; RFC 7636 4.2, 4.4.1): an S256
// code_challenge that is not 43 base64url characters of a SHA-256 is refused at the
// authorization request (invalid_request at the redirect_uri, with state and iss), before the
// member signs in to a code no verifier can redeem.
func TestMalformedCodeChallengeRedirected(t *testing.T) {
	h := newHarness(t)
	_, good := pkce()
	for _, v := range []string{"short", good + "A", good[:42] + "=", good[:42] + "+", strings.Repeat("a", 128)} {
		cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
		resp := h.get(cfg.AuthCodeURL("st-2", oauth2.SetAuthURLParam("code_challenge", v),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), webRedirect) {
			t.Errorf("code_challenge=%q: %d Location %q, want a redirect to %s", v, resp.StatusCode, resp.Header.Get("Location"), webRedirect)
			continue
		}
		if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st-2" || q.Get("iss") != h.issuer {
			t.Errorf("code_challenge=%q answered %v, want error=invalid_request, state st-2, iss", v, q)
		}
	}
	// The good one still goes on to the sign-in (no error at the redirect_uri).
	cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
	resp := h.get(cfg.AuthCodeURL("st-3", oauth2.SetAuthURLParam("code_challenge", good), oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	if strings.HasPrefix(resp.Header.Get("Location"), webRedirect) {
		t.Fatalf("a well-formed code_challenge was refused: %s", resp.Header.Get("Location"))
	}
}
