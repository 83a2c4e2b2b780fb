package sso_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// Review s25 X-3 (Low): RFC 6749 3.1, "Parameters sent without a value MUST be treated as if
// they were omitted from the request". An empty resource (RFC 8707) or audience (RFC 8693)
// parameter, which clients send when the setting is left blank in their configuration, is
// refused invalid_target ("resource must be an absolute URI without a fragment", "this
// client's tokens are not issued for the requested audience") at the token endpoint and at
// /authorize, instead of being ignored. Fails on main: 400 invalid_target, and /authorize's
// error redirect.
func TestX25EmptyTargetParametersAreOmitted(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"resource", "audience"} {
		t.Run("token endpoint/"+name, func(t *testing.T) {
			code, verifier := h.code("alice", "openid")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
				"code_verifier": {verifier}, name: {""}}
			if status, body, _ := h.token(form, "web:"+webSecret); status != http.StatusOK {
				t.Errorf("code exchange with an empty %s: %d %v, want 200 (the parameter omitted)", name, status, body)
			}
			status, body, _ := h.token(url.Values{"grant_type": {"client_credentials"}, name: {""}}, "svc:"+svcSecret)
			if status != http.StatusOK {
				t.Errorf("client_credentials with an empty %s: %d %v, want 200", name, status, body)
			}
		})
	}
	t.Run("authorize/resource", func(t *testing.T) {
		cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
		resp := h.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("resource", "")))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Path != "/login" {
			t.Errorf("authorize with an empty resource: %d %s, want the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
