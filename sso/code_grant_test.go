package sso_test

import (
	"net/url"
	"testing"
)

// TestCodeGrantChecks pins the code exchange's validation, which the code grant does itself
// with the authenticated client (op's ValidateAccessTokenRequest checks in op's order): both
// client authentication methods, the redirect URI, a code of another client, PKCE (wrong,
// missing, unexpected verifier), a missing code. Each case has a fresh code.
func TestCodeGrantChecks(t *testing.T) {
	h := newHarness(t)
	noPKCE := func() string {
		u := h.signIn(h.oauth2Config("web", webSecret, webRedirect, "openid").AuthCodeURL("st"), "alice")
		return u.Query().Get("code")
	}
	for _, tc := range []struct {
		name   string
		form   func(code, verifier string) url.Values
		basic  string
		plain  bool // a code without a PKCE challenge
		status int
		err    string
	}{
		{"basic", func(c, v string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {v}}
		}, "web:" + webSecret, false, 200, ""},
		{"post", func(c, v string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {v},
				"client_id": {"web"}, "client_secret": {webSecret}}
		}, "", false, 200, ""},
		{"no PKCE", func(c, _ string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}}
		}, "web:" + webSecret, true, 200, ""},
		{"redirect_uri differs", func(c, v string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect + "/x"}, "code_verifier": {v}}
		}, "web:" + webSecret, false, 400, "invalid_grant"},
		{"redirect_uri missing", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}}
		}, "web:" + webSecret, false, 400, "invalid_grant"},
		{"another client's code", func(c, v string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {v}}
		}, "quiet:" + webSecret, false, 400, "invalid_grant"},
		{"another client's code, public client", func(c, v string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {v}, "client_id": {"spa"}}
		}, "", false, 400, "invalid_grant"},
		{"wrong verifier", func(c, _ string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {"x" + c}}
		}, "web:" + webSecret, false, 400, "invalid_grant"},
		{"verifier missing", func(c, _ string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}}
		}, "web:" + webSecret, false, 400, "invalid_request"},
		{"verifier unexpected", func(c, _ string) url.Values {
			return url.Values{"code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {"0123456789012345678901234567890123456789abc"}}
		}, "web:" + webSecret, true, 400, "invalid_request"},
		{"code missing", func(_, v string) url.Values {
			return url.Values{"redirect_uri": {webRedirect}, "code_verifier": {v}}
		}, "web:" + webSecret, false, 400, "invalid_request"},
		{"unknown code", func(c, v string) url.Values {
			return url.Values{"code": {c + "x"}, "redirect_uri": {webRedirect}, "code_verifier": {v}}
		}, "web:" + webSecret, false, 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var code, verifier string
			if tc.plain {
				code = noPKCE()
			} else {
				code, verifier = h.code("alice", "openid")
			}
			form := tc.form(code, verifier)
			form.Set("grant_type", "authorization_code")
			status, body, _ := h.token(form, tc.basic)
			if status != tc.status || (tc.err != "" && body["error"] != tc.err) {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.err)
			}
			if d, _ := body["error_description"].(string); tc.status != 200 && d == "" {
				t.Errorf("refused without saying why (RFC 6749 5.2 error_description; review s11 Z4): %v", body)
			}
			if tc.status == 200 && (body["id_token"] == nil || body["access_token"] == nil) {
				t.Fatalf("no tokens: %v", body)
			}
		})
	}
}
