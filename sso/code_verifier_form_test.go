package sso_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestCodeVerifierForm (review s25 X-7; RFC 7636 4.1: code-verifier = 43*128unreserved, with
// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"): at the token endpoint a code_verifier of
// another form is refused with invalid_request (RFC 6749 5.2: a malformed parameter value),
// even when its SHA-256 is the request's code_challenge, and the code is not spent: the same
// code then succeeds with its own well-formed verifier. Well-formed verifiers of both bounds
// and every allowed character succeed. Before, any verifier whose SHA-256 matched was taken
// ("a" included).
func TestCodeVerifierForm(t *testing.T) {
	h := newHarness(t)
	codeFor := func(verifier string) string {
		t.Helper()
		sum := sha256.Sum256([]byte(verifier))
		cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
		u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:])),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")), "alice")
		if e := u.Query().Get("error"); e != "" {
			t.Fatalf("authorization error %s: %s", e, u.Query().Get("error_description"))
		}
		return u.Query().Get("code")
	}
	exchange := func(code, verifier string) (int, map[string]any) {
		t.Helper()
		status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web:"+webSecret)
		return status, body
	}
	good := strings.Repeat("aZ09-._~", 6)[:43]
	for _, tc := range []struct {
		name, verifier string
		ok             bool
	}{
		{"43 characters, every kind", good, true},
		{"128 characters", strings.Repeat("x", 128), true},
		{"one character", "a", false},
		{"42 characters", strings.Repeat("x", 42), false},
		{"129 characters", strings.Repeat("x", 129), false},
		{"a plus", strings.Repeat("x", 42) + "+", false},
		{"a slash", strings.Repeat("x", 42) + "/", false},
		{"padding", strings.Repeat("x", 42) + "=", false},
		{"a space", strings.Repeat("x", 21) + " " + strings.Repeat("x", 21), false},
		{"non-ASCII", strings.Repeat("x", 42) + "é", false},
	} {
		// The challenge is the SHA-256 of this very verifier: only its form can refuse it.
		code := codeFor(tc.verifier)
		status, body := exchange(code, tc.verifier)
		if tc.ok {
			if status != 200 {
				t.Errorf("%s: %d %v %v, want tokens", tc.name, status, body["error"], body["error_description"])
			}
			continue
		}
		if status != 400 || body["error"] != "invalid_request" || !strings.Contains(body["error_description"].(string), "RFC 7636 4.1") {
			t.Errorf("%s: %d %v %v, want 400 invalid_request naming RFC 7636 4.1", tc.name, status, body["error"], body["error_description"])
		}
	}
	// A malformed verifier does not spend the code, nor count as its replay.
	code := codeFor(good)
	if status, body := exchange(code, "short"); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("malformed verifier: %d %v", status, body)
	}
	if status, body := exchange(code, good); status != 200 {
		t.Fatalf("the code after a malformed verifier: %d %v, want tokens", status, body)
	}
}
