package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

func corsRequest(t *testing.T, method, u, origin string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "POST")
	}
	return doJSON(t, req)
}

// TestCORSForSPAs: the token, revocation and userinfo endpoints answer CORS only for the
// origins registered for the requesting client, never with a wildcard or credentials; a token
// request from another origin is refused.
func TestCORSForSPAs(t *testing.T) {
	e := grantEnv(t)
	const good, evil = "https://spa.example.org", "https://evil.example.org"
	noCredentials := func(resp *http.Response) {
		t.Helper()
		if resp.Header.Get("Access-Control-Allow-Credentials") != "" || resp.Header.Get("Access-Control-Allow-Origin") == "*" {
			t.Fatalf("CORS with credentials or a wildcard: %v", resp.Header)
		}
	}
	// Preflights.
	resp, _ := corsRequest(t, http.MethodOptions, tokenURL(e), good, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != good || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight from a registered origin: %d %v", resp.StatusCode, resp.Header)
	}
	noCredentials(resp)
	resp, _ = corsRequest(t, http.MethodOptions, tokenURL(e), evil, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from an unregistered origin allowed: %v", resp.Header)
	}

	// Token requests: the SPA from its origin gets CORS (and a protocol answer); from another
	// origin, or another client from the SPA's origin, it is refused without CORS.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_id": {"spa"},
		"redirect_uri": {"https://spa.example.org/cb"}, "code_verifier": {strings.Repeat("a", 43)}}
	resp, body := corsRequest(t, http.MethodPost, tokenURL(e), good, form)
	if resp.Header.Get("Access-Control-Allow-Origin") != good || body["error"] != "invalid_grant" {
		t.Fatalf("token request from the registered origin: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	noCredentials(resp)
	resp, body = corsRequest(t, http.MethodPost, tokenURL(e), evil, form)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode != http.StatusForbidden || body["error"] == nil {
		t.Fatalf("token request from an unregistered origin: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	form.Set("client_id", "mobile")
	resp, _ = corsRequest(t, http.MethodPost, tokenURL(e), good, form)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another client from the SPA's origin: %d %v", resp.StatusCode, resp.Header)
	}

	// Revocation, likewise.
	rev := url.Values{"token": {"whatever"}, "client_id": {"spa"}}
	resp, _ = corsRequest(t, http.MethodPost, e.issuer+"/revoke", good, rev)
	if resp.Header.Get("Access-Control-Allow-Origin") != good || resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation from the registered origin: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = corsRequest(t, http.MethodPost, e.issuer+"/revoke", evil, rev)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("revocation from an unregistered origin: %d %v", resp.StatusCode, resp.Header)
	}

	// Userinfo: no CORS for an unregistered origin.
	resp, _ = corsRequest(t, http.MethodGet, e.issuer+"/userinfo", evil, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("userinfo from an unregistered origin: %v", resp.Header)
	}
	resp, _ = corsRequest(t, http.MethodOptions, e.issuer+"/userinfo", good, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != good {
		t.Fatalf("userinfo preflight from the registered origin: %v", resp.Header)
	}
	noCredentials(resp)
}

// TestPublicRefreshRotationAndLifetime: a public client's refresh token rotates on every use
// and its family ends after refresh_token_lifetime_public, shorter than a confidential one's.
func TestPublicRefreshRotationAndLifetime(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) { c.Tokens.RefreshPublic = 2 * time.Hour; c.Tokens.RefreshToken = 48 * time.Hour })
	mobile, _ := e.oauth("mobile", "", "http://127.0.0.1:40123/mobile/cb", oauth2.AuthStyleInParams)
	v := oauth2.GenerateVerifier()
	tok, err := mobile.Exchange(e.ctx(), e.signIn(e.browser(), mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-password"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	_, err = web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	life := func(client string) time.Duration {
		t.Helper()
		rts, err := e.store.ListRefreshTokens(e.ctx(), "", client)
		if err != nil || len(rts) != 1 {
			t.Fatalf("refresh tokens of %s: %v %v", client, rts, err)
		}
		return rts[0].ExpiresAt.Sub(rts[0].CreatedAt)
	}
	if l := life("mobile"); l < 2*time.Hour-time.Minute || l > 2*time.Hour {
		t.Fatalf("public refresh lifetime %v, want 2h", l)
	}
	if l := life("web"); l < 48*time.Hour-time.Minute || l > 48*time.Hour {
		t.Fatalf("confidential refresh lifetime %v, want 48h", l)
	}
	rts, _ := e.store.ListRefreshTokens(e.ctx(), "", "mobile")
	end := rts[0].ExpiresAt

	old := tok.RefreshToken
	tok.Expiry = time.Now().Add(-time.Hour)
	nt, err := mobile.TokenSource(e.ctx(), tok).Token()
	if err != nil {
		t.Fatalf("public refresh: %v", err)
	}
	if nt.RefreshToken == "" || nt.RefreshToken == old {
		t.Fatal("a public client's refresh token must rotate on every use")
	}
	rts, _ = e.store.ListRefreshTokens(e.ctx(), "", "mobile")
	if len(rts) != 1 || !rts[0].ExpiresAt.Equal(end) {
		t.Fatalf("rotation must keep the family's absolute end %v: %+v", end, rts)
	}
	// The rotated token, used again, revokes the family (strict rotation).
	if _, err := mobile.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: old}).Token(); err == nil {
		t.Fatal("rotated refresh token reused")
	}
	nt.Expiry = time.Now().Add(-time.Hour)
	if _, err := mobile.TokenSource(e.ctx(), nt).Token(); err == nil {
		t.Fatal("the family must be revoked after reuse")
	}
}

// TestNativeRedirects (RFC 8252): a private-use URI scheme redirect, a loopback redirect on a
// port other than the registered one, and PKCE required; a different loopback path is refused.
func TestNativeRedirects(t *testing.T) {
	e := grantEnv(t)
	for _, redirect := range []string{"org.example.app:/cb", "http://127.0.0.1:61999/mobile/cb", "http://127.0.0.1:5/mobile/cb"} {
		t.Run(redirect, func(t *testing.T) {
			cfg, verifier := e.oauth("mobile", "", redirect, oauth2.AuthStyleInParams)
			v := oauth2.GenerateVerifier()
			b := e.browser()
			p := b.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
			p = b.Login(p, "alice", "alice-password")
			if !strings.HasPrefix(p.Location, redirect+"?") {
				t.Fatalf("redirected to %q, want %s", p.Location, redirect)
			}
			q := p.Redirected(t)
			if q.Get("state") != "st" {
				t.Fatalf("state %q", q.Get("state"))
			}
			tok, err := cfg.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if _, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("PKCERequired", func(t *testing.T) {
		cfg, _ := e.oauth("mobile", "", "org.example.app:/cb", oauth2.AuthStyleInParams)
		b := e.browser()
		p := b.Get(cfg.AuthCodeURL("st"))
		if q := p.Redirected(t); q.Get("error") != "invalid_request" {
			t.Fatalf("no PKCE: %v", q)
		}
	})
	t.Run("OtherLoopbackPathRefused", func(t *testing.T) {
		cfg, _ := e.oauth("mobile", "", "http://127.0.0.1:61999/elsewhere", oauth2.AuthStyleInParams)
		p := e.browser().Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.Location != "" || p.Status != http.StatusBadRequest {
			t.Fatalf("unregistered loopback path: %d %q", p.Status, p.Location)
		}
	})
}

// TestLoopbackOnlyPortVaries (RFC 8252 7.3): for a registered loopback redirect only the port
// may vary; another scheme, another loopback host (localhost, [::1], 127.0.0.2), user info or
// another path is refused on a page, never redirected to.
func TestLoopbackOnlyPortVaries(t *testing.T) {
	e := grantEnv(t)
	for _, redirect := range []string{
		"https://127.0.0.1:5/mobile/cb",
		"http://localhost:5/mobile/cb",
		"http://[::1]:5/mobile/cb",
		"http://127.0.0.2:5/mobile/cb",
		"http://evil@127.0.0.1:5/mobile/cb",
		"http://127.0.0.1:5/mobile/cb/",
		"http://127.0.0.1:5/mobile/cb?x=1",
	} {
		cfg, _ := e.oauth("mobile", "", redirect, oauth2.AuthStyleInParams)
		p := e.browser().Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.Location != "" || p.Status != http.StatusBadRequest {
			t.Fatalf("%s: %d %q", redirect, p.Status, p.Location)
		}
	}
}
