package sso_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// withErrorPage makes the provider answer person-facing errors with a recognisable page.
func withErrorPage(c *sso.Config) {
	c.ErrorPage = func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<p>PAGE: "+msg+"</p>")
	}
}

// TestAuthorizeRefusals: a request that cannot be answered at the client's redirect_uri gets a
// page (never a redirect to an unregistered address); one that can gets an error redirect.
func TestAuthorizeRefusals(t *testing.T) {
	h := newHarness(t, withErrorPage)
	_, challenge := pkce()
	base := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return sso.PathAuthorize + "?" + q.Encode()
	}
	for _, tc := range []struct {
		name, path string
		page       bool   // answered with the error page
		redirect   string // else the error in the redirect
	}{
		{"unknown client", with("client_id", "nobody"), true, ""},
		{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/cb"), true, ""},
		{"repeated parameter", with("", "") + "&state=t", true, ""},
		{"response type this provider never issues", with("response_type", "bogus"), false, "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.get(tc.path)
			body, _ := io.ReadAll(resp.Body)
			if tc.page {
				if resp.StatusCode != 400 || !strings.Contains(string(body), "PAGE: ") {
					t.Fatalf("got %d %q %s, want the error page", resp.StatusCode, body, resp.Header.Get("Location"))
				}
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != 302 || loc.Query().Get("error") != tc.redirect || loc.Query().Get("iss") != h.issuer ||
				!strings.HasPrefix(loc.String(), webRedirect) {
				t.Fatalf("got %d %s, want a redirect with %s", resp.StatusCode, loc, tc.redirect)
			}
		})
	}
}

// TestEndSession: a valid request goes to the Hooks' logout page with the registered
// post_logout_redirect_uri; an invalid one gets the error page.
func TestEndSession(t *testing.T) {
	h := newHarness(t, withErrorPage)
	tok := h.tokens("alice", "openid")
	idt, _ := tok.Extra("id_token").(string)
	for _, tc := range []struct {
		name  string
		query url.Values
		want  string // prefix of the Location, or "" for the page
	}{
		{"registered redirect", url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"x"}},
			"/logged-out?to=" + url.QueryEscape("https://rp.example/bye")},
		{"no redirect", url.Values{"id_token_hint": {idt}}, "/logged-out?to=" + url.QueryEscape(h.issuer+"/logout/done")},
		{"unregistered redirect", url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}}, ""},
		{"unknown client", url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {"https://rp.example/bye"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.get(sso.PathEndSession + "?" + tc.query.Encode())
			body, _ := io.ReadAll(resp.Body)
			if tc.want == "" {
				if resp.StatusCode < 400 || !strings.Contains(string(body), "PAGE: ") {
					t.Fatalf("got %d %q, want the error page", resp.StatusCode, body)
				}
				return
			}
			if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, tc.want) {
				t.Fatalf("got %d %q, want a redirect to %s", resp.StatusCode, loc, tc.want)
			}
		})
	}
}
