package sso_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestCodeOfAnotherClient (review s18 X18-7): a code is bound to the client it was issued to
// (RFC 6749 4.1.3). Another client presenting it, confidential or public (by its id alone), is
// refused with invalid_grant whether the code is unused or used, and nothing happens to it: an
// unused code stays redeemable by its own client, a used one revokes nothing (no
// token.code_replay naming the victim; token.code_other_client for the caller). Only its own
// client presenting a used code again revokes what it issued (4.1.2).
func TestCodeOfAnotherClient(t *testing.T) {
	callers := []struct {
		name  string
		form  url.Values // the caller's own parameters
		basic string
	}{
		{"confidential", url.Values{"redirect_uri": {webRedirect}}, "quiet:" + webSecret},
		{"public", url.Values{"client_id": {"spa"}, "redirect_uri": {"https://spa.example/cb"}}, ""},
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			code, verifier := h.code("alice", "openid", "offline_access")
			other := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
			for k, v := range c.form {
				other[k] = v
			}
			// Unused: refused, and the code is still web's to redeem.
			if status, body, _ := h.token(other, c.basic); status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("unused code at %s: %d %v, want 400 invalid_grant", c.name, status, body)
			}
			own := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			status, tok, _ := h.token(own, "web:"+webSecret)
			if status != 200 {
				t.Fatalf("web's exchange after another client's attempt: %d %v", status, tok)
			}
			// Used: refused, nothing revoked.
			if status, body, _ := h.token(other, c.basic); status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("used code at %s: %d %v, want 400 invalid_grant", c.name, status, body)
			}
			if h.introspect(tok["access_token"].(string))["active"] != true {
				t.Fatal("web's access token revoked by another client presenting its used code")
			}
			if h.hooks.sawEvent("token.code_replay") || !h.hooks.sawEvent("token.code_other_client") {
				t.Fatalf("events %v: want token.code_other_client and no token.code_replay", h.hooks.events)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
			status, refreshed, _ := h.token(refresh, "web:"+webSecret)
			if status != 200 {
				t.Fatalf("web's refresh after another client presented its used code: %d %v", status, refreshed)
			}
			// Its own client replaying it still revokes (RFC 6749 4.1.2).
			if status, body, _ := h.token(own, "web:"+webSecret); status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("web's replay: %d %v", status, body)
			}
			if h.introspect(refreshed["access_token"].(string))["active"] != false || !h.hooks.sawEvent("token.code_replay") {
				t.Fatal("web's own replay of its code revoked nothing")
			}
		})
	}
}

// TestCodeReplayWithoutVerifier (final read s18 R1-2): a used code presented again by its own
// client without the code_verifier its challenge asks for (a wrong one, or none) is refused and
// revokes nothing (for a public client the id is no secret, and a used code sits in browser
// histories and access logs); with the verifier it still revokes the grant (RFC 6749 4.1.2).
func TestCodeReplayWithoutVerifier(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("alice", "openid", "offline_access")
	form := func(v string) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}
		if v != "" {
			f.Set("code_verifier", v)
		}
		return f
	}
	status, tok, _ := h.token(form(verifier), "web:"+webSecret)
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	for _, wrong := range []string{strings.Repeat("x", 43), ""} {
		if status, body, _ := h.token(form(wrong), "web:"+webSecret); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("replay with verifier %q: %d %v, want 400 invalid_grant", wrong, status, body)
		}
		if h.introspect(tok["access_token"].(string))["active"] != true {
			t.Fatalf("replay with verifier %q revoked the grant", wrong)
		}
	}
	if h.hooks.sawEvent("token.code_replay") || !h.hooks.sawEvent("token.code_replay_unproven") {
		t.Fatalf("events %v: want token.code_replay_unproven and no token.code_replay", h.hooks.events)
	}
	if status, body, _ := h.token(form(verifier), "web:"+webSecret); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("replay with the verifier: %d %v", status, body)
	}
	if h.introspect(tok["access_token"].(string))["active"] != false || !h.hooks.sawEvent("token.code_replay") {
		t.Fatal("the client's own replay with its verifier revoked nothing")
	}
}
