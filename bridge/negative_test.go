package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

func tokenURL(e *env) string { return e.issuer + "/oauth/token" }

func wantOAuthError(t *testing.T, resp *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || body["error"] != code {
		t.Fatalf("want %d %s, got %d %v", status, code, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q", ct)
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	form := map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": e.rp + "/callback"}

	t.Run("wrong secret", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), form, "web", "wrong")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), form, "nobody", "x")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("redirect_uri mismatch", func(t *testing.T) {
		f := map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": e.rp + "/evil"}
		resp, body := postForm(t, tokenURL(e), f, "web", webSecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("code of another client", func(t *testing.T) {
		f := map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": e.rp + "/other"}
		resp, body := postForm(t, tokenURL(e), f, "other", otherSecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("unsupported grant type", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "magic"}, "web", webSecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "unsupported_grant_type")
	})
	t.Run("grant not registered", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "client_credentials"}, "web", webSecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "unauthorized_client")
	})
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.Exchange(e.ctx(), code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("replay: %v", err)
	}
	// RFC 6749 4.1.2: the tokens issued from the replayed code are revoked.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, _ := doJSON(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("access token after replay: %d", resp.StatusCode)
	}
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := web.TokenSource(e.ctx(), tok).Token(); err == nil {
		t.Fatal("refresh token after code replay still works")
	}
}

func TestExpiredCode(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Tokens.Code = time.Second })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	time.Sleep(1100 * time.Millisecond)
	if _, err := web.Exchange(e.ctx(), code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("expired code: %v", err)
	}
}

func TestConcurrentCodeExchange(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	var ok, bad atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := web.Exchange(e.ctx(), code); err == nil {
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || bad.Load() != 11 {
		t.Fatalf("concurrent exchange: %d succeeded, %d failed; want exactly one success", ok.Load(), bad.Load())
	}
}

func TestPKCE(t *testing.T) {
	e := newEnv(t)
	mobile, _ := e.oauth("mobile", "", "http://127.0.0.1/mobile/cb", oauth2.AuthStyleInParams)
	b := e.browser()
	t.Run("missing challenge is refused at authorize", func(t *testing.T) {
		p := b.Get(mobile.AuthCodeURL("s"))
		q := p.Redirected(t)
		if q.Get("error") != "invalid_request" || q.Get("state") != "s" {
			t.Fatalf("want invalid_request, got %v", q)
		}
	})
	t.Run("plain method is refused", func(t *testing.T) {
		p := b.Get(mobile.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if p.Redirected(t).Get("error") != "invalid_request" {
			t.Fatalf("plain accepted: %q", p.Location)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.signIn(b, mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-password")
		if _, err := mobile.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("wrong verifier: %v", err)
		}
	})
	t.Run("missing verifier", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.signIn(b, mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-password")
		if _, err := mobile.Exchange(e.ctx(), code); err == nil {
			t.Fatal("exchange without verifier succeeded")
		}
	})
}

// TestRefreshRotationAndReuse: rotation is strict by default: a rotated refresh token used
// again, however soon, revokes the whole family (its successor and their access tokens).
func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	first, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt}, "web", webSecret)
	}
	resp, second := refresh(first.RefreshToken)
	if resp.StatusCode != 200 {
		t.Fatalf("first refresh: %v", second)
	}
	t.Run("refresh by another client", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": second["refresh_token"].(string)}, "other", otherSecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	// Replayed at once: reuse, the whole family is revoked.
	resp, body := refresh(first.RefreshToken)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	resp, body = refresh(second["refresh_token"].(string))
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+second["access_token"].(string))
	if resp, _ := doJSON(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("access token of a dead family still works: %d", resp.StatusCode)
	}
	if ev, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "token.refresh_reuse"}); len(ev) == 0 {
		t.Fatal("refresh token reuse not audited")
	}
}

// TestRefreshReuseGraceOptIn: with tokens.refresh_reuse_grace, a retry of the rotated token
// inside the window gets the same successor (a client that lost the response); past it, reuse
// revokes the family (the store conformance suite checks the window with a controlled clock).
func TestRefreshReuseGraceOptIn(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Tokens.RefreshReuseGrace = time.Minute })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	first, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt}, "web", webSecret)
	}
	_, second := refresh(first.RefreshToken)
	resp, retry := refresh(first.RefreshToken)
	if resp.StatusCode != 200 || retry["refresh_token"] != second["refresh_token"] {
		t.Fatalf("retry inside the grace window: %d %v", resp.StatusCode, retry)
	}
}

func TestRevocationAndUserinfo(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	userinfo := func(method string) int {
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, e.issuer+"/userinfo", strings.NewReader("access_token="+url.QueryEscape(tok.AccessToken)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, e.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		resp, _ := doJSON(t, req)
		return resp.StatusCode
	}
	if userinfo(http.MethodGet) != 200 || userinfo(http.MethodPost) != 200 {
		t.Fatal("userinfo GET/POST failed")
	}
	// Introspection (RFC 7662) by the client the token was issued to.
	resp, body := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken}, "web", webSecret)
	if resp.StatusCode != 200 || body["active"] != true || body["client_id"] != "web" {
		t.Fatalf("introspect: %d %v", resp.StatusCode, body)
	}
	// Revoke the access token (RFC 7009); userinfo then refuses it.
	resp, body = postForm(t, e.issuer+"/revoke", map[string]string{"token": tok.AccessToken, "token_type_hint": "access_token"}, "web", webSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %v", resp.StatusCode, body)
	}
	if s := userinfo(http.MethodGet); s != http.StatusUnauthorized {
		t.Fatalf("userinfo with revoked token: %d", s)
	}
	resp, body = postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken}, "web", webSecret)
	if resp.StatusCode != 200 || body["active"] != false {
		t.Fatalf("introspect revoked: %d %v", resp.StatusCode, body)
	}
	// Revoking the refresh token kills it; revoking garbage is still 200.
	postForm(t, e.issuer+"/revoke", map[string]string{"token": tok.RefreshToken}, "web", webSecret)
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := web.TokenSource(e.ctx(), tok).Token(); err == nil {
		t.Fatal("revoked refresh token still works")
	}
	if resp, _ := postForm(t, e.issuer+"/revoke", map[string]string{"token": "garbage"}, "web", webSecret); resp.StatusCode != 200 {
		t.Fatalf("revoke garbage: %d", resp.StatusCode)
	}
}

func TestAuthorizeErrorsNeverRedirect(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for name, q := range map[string]url.Values{
		"unknown client":   {"client_id": {"nobody"}, "redirect_uri": {e.rp + "/callback"}, "response_type": {"code"}, "scope": {"openid"}},
		"unregistered uri": {"client_id": {"web"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}},
		"prefix of a uri":  {"client_id": {"web"}, "redirect_uri": {e.rp + "/callback/x"}, "response_type": {"code"}, "scope": {"openid"}},
		"duplicated param": {"client_id": {"web", "web"}, "redirect_uri": {e.rp + "/callback"}, "response_type": {"code"}, "scope": {"openid"}},
		"missing redirect": {"client_id": {"web"}, "response_type": {"code"}, "scope": {"openid"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := b.Get(e.issuer + "/authorize?" + q.Encode())
			if p.Location != "" {
				t.Fatalf("redirected to %q", p.Location)
			}
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "<h1>") || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("want an error page, got %d %s: %.200s", p.Status, p.Header.Get("Content-Type"), p.Body)
			}
		})
	}
}

func TestPromptNoneWithoutSession(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	p := e.browser().Get(web.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
	q := p.Redirected(t)
	if q.Get("error") != "login_required" || q.Get("state") != "st" {
		t.Fatalf("prompt=none: %v", q)
	}
}

// TestBadTokenRequests: malformed, oversized or duplicated parameters, wrong content types and
// broken bodies get RFC 6749 JSON errors, never a 500, and the server keeps answering.
func TestBadTokenRequests(t *testing.T) {
	e := newEnv(t)
	send := func(ct, body string, basic bool) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL(e), strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if basic {
			req.SetBasicAuth("web", webSecret)
		}
		return doJSON(t, req)
	}
	cases := []struct {
		name, ct, body string
		basic          bool
		status         int
		code           string
	}{
		{"json body", "application/json", `{"grant_type":"refresh_token"}`, true, 400, "invalid_request"},
		{"no content type", "", "grant_type=refresh_token", true, 400, "invalid_request"},
		{"duplicated grant_type", "application/x-www-form-urlencoded", "grant_type=refresh_token&grant_type=authorization_code", true, 400, "invalid_request"},
		{"broken encoding", "application/x-www-form-urlencoded", "grant_type=%zz&code=%", true, 400, "invalid_request"},
		{"oversized body", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 100<<10), true, 400, "invalid_request"},
		{"missing grant_type", "application/x-www-form-urlencoded", "code=abc", true, 400, "invalid_request"},
		{"no client", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x", false, 401, "invalid_client"},
		{"garbage refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + strings.Repeat("x", 2000), true, 400, "invalid_grant"},
		{"garbage code", "application/x-www-form-urlencoded", "grant_type=authorization_code&redirect_uri=x&code=\x00\xff", true, 400, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(tc.ct, tc.body, tc.basic)
			wantOAuthError(t, resp, body, tc.status, tc.code)
		})
	}
	if resp, err := http.Get(e.issuer + "/.well-known/openid-configuration"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("server stopped answering: %v", err)
	}
}
