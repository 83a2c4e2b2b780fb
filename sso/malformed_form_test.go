package sso_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestMalformedFormRefused (final read s17 R1-1, R1-2): a query with a pair that does not parse
// (a bad escape) is refused. Go's ParseForm keeps the pairs it could read and op's decoder uses
// them, so before, the checks that run on a parsed form were skipped: an Access_Token in the URL
// reached userinfo, a Redirect_Uri the loopback check and a Post_Logout_Redirect_Uri the
// end_session checks.
func TestMalformedFormRefused(t *testing.T) {
	h := newHarness(t, withErrorPage)
	tok := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	authz := url.Values{"client_id": {"web"}, "response_type": {"code"}, "scope": {"openid"}, "Redirect_Uri": {webRedirect}, "state": {"st"}}
	logout := url.Values{"id_token_hint": {idt}, "client_id": {"web"}, "Post_Logout_Redirect_Uri": {"https://rp.example/bye"}}
	for _, tc := range []struct {
		name, path string
		json       bool
	}{
		{"userinfo, token in the URL", sso.PathUserinfo + "?Access_Token=" + tok.AccessToken + "&x=%zz", true},
		{"userinfo, bad escape alone", sso.PathUserinfo + "?x=%zz", true},
		{"authorize, redirect_uri in another case", sso.PathAuthorize + "?" + authz.Encode() + "&x=%zz", false},
		{"end_session, post_logout_redirect_uri in another case", sso.PathEndSession + "?" + logout.Encode() + "&x=%zz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.get(tc.path, "Authorization", "Bearer "+tok.AccessToken)
			if tc.json {
				body := decodeJSON(t, resp)
				if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
					t.Fatalf("got %d %v, want 400 invalid_request", resp.StatusCode, body)
				}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "malformed") {
				t.Fatalf("got %d %q (Location %q), want the 400 page", resp.StatusCode, body, resp.Header.Get("Location"))
			}
		})
	}
}
