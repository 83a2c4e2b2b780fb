package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type idClaims struct {
	Sub      string   `json:"sub"`
	Nonce    string   `json:"nonce"`
	AtHash   string   `json:"at_hash"`
	Sid      string   `json:"sid"`
	Azp      string   `json:"azp"`
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
}

// TestCodeFlowConfidential runs the full flow with client_secret_basic and client_secret_post:
// code, ID token verified by go-oidc, userinfo, refresh, end_session.
func TestCodeFlowConfidential(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", tc.style)
			b := e.browser()
			code := e.signIn(b, cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce")), "alice", "alice-password")
			tok, err := cfg.Exchange(e.ctx(), code)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(e.ctx(), raw)
			if err != nil {
				t.Fatalf("verify id token: %v", err)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var c idClaims
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.Nonce != "n0nce" || c.Sid == "" || c.Azp != "web" || c.AuthTime == 0 || c.AtHash == "" {
				t.Fatalf("id token claims: %+v", c)
			}
			if c.Sub == "" || strings.Contains(c.Sub, "alice") || strings.Contains(strings.ToLower(c.Sub), "1111") {
				t.Fatalf("subject must be opaque, got %q", c.Sub)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token with offline_access")
			}

			p, err := oidc.NewProvider(e.ctx(), e.issuer)
			if err != nil {
				t.Fatal(err)
			}
			ui, err := p.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != c.Sub || ui.Email != "alice@example.org" {
				t.Fatalf("userinfo: %+v", ui)
			}

			// Refresh: new tokens, rotated refresh token, fresh ID token for the same subject.
			tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
			nt, err := cfg.TokenSource(e.ctx(), tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if nt.RefreshToken == tok.RefreshToken || nt.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate")
			}
			nid, err := verifier.Verify(e.ctx(), nt.Extra("id_token").(string))
			if err != nil || nid.Subject != c.Sub {
				t.Fatalf("refreshed id token: %v", err)
			}

			// end_session with id_token_hint and a registered post_logout_redirect_uri.
			q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {e.rp + "/signed-out"}, "state": {"bye"}}
			out := b.Get(e.issuer + "/end_session?" + q.Encode())
			if !strings.HasPrefix(out.Location, e.rp+"/signed-out") || out.Redirected(t).Get("state") != "bye" {
				t.Fatalf("end_session: status %d location %q", out.Status, out.Location)
			}
			// The SSO session is gone: prompt=none now says login_required.
			again := b.Get(cfg.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none")))
			if again.Redirected(t).Get("error") != "login_required" {
				t.Fatalf("after logout: %q", again.Location)
			}
		})
	}
}

// TestPublicClientPKCE runs the flow for a public (native) client with PKCE S256 on a loopback
// redirect with an arbitrary port (RFC 8252 7.3).
func TestPublicClientPKCE(t *testing.T) {
	e := newEnv(t)
	cfg, verifier := e.oauth("mobile", "", "http://127.0.0.1:53124/mobile/cb", oauth2.AuthStyleInParams)
	pkce := oauth2.GenerateVerifier()
	b := e.browser()
	code := e.signIn(b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(pkce)), "alice", "alice-password")
	tok, err := cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	// Refresh without a secret (public client).
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	if _, err := cfg.TokenSource(e.ctx(), tok).Token(); err != nil {
		t.Fatalf("public refresh: %v", err)
	}
}

// TestSingleSignOn: a second app in the same browser signs in without the form; prompt=login
// and max_age=0 force the form again; prompt=none signs in silently.
func TestSingleSignOn(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, otherVerifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password")

	p := b.Get(other.AuthCodeURL("b"))
	code := p.Redirected(t).Get("code")
	if code == "" {
		t.Fatalf("second app did not get a code without the form: %q", p.Location)
	}
	tok, err := other.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := otherVerifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("ES256 id token: %v", err)
	}
	if !strings.Contains(tok.Extra("id_token").(string), ".") || idt.Subject == "" {
		t.Fatal("bad id token")
	}
	if p := b.Get(other.AuthCodeURL("c", oauth2.SetAuthURLParam("prompt", "none"))); p.Redirected(t).Get("code") == "" {
		t.Fatalf("prompt=none with a session: %q", p.Location)
	}
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		p := b.Get(other.AuthCodeURL("d", opt))
		if p.Location != "" || !strings.Contains(p.Body, `name="password"`) {
			t.Fatalf("expected the login form, got %d %q", p.Status, p.Location)
		}
	}
}

// TestLoginFailures: wrong password and unknown login give the same message; a locked account
// is told so only with the right password; the membership system being down is explained.
func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	form := b.Get(web.AuthCodeURL("x"))
	wrong := b.Login(form, "alice", "nope")
	unknown := b.Login(b.Get(web.AuthCodeURL("x")), "nobody", "nope")
	msg := func(p string) string {
		i := strings.Index(p, `role="alert"`)
		if i < 0 {
			return ""
		}
		return p[i : i+strings.Index(p[i:], "</div>")]
	}
	if wrong.Status != http.StatusUnauthorized || msg(wrong.Body) == "" || msg(wrong.Body) != msg(unknown.Body) {
		t.Fatalf("messages differ or missing: %q vs %q", msg(wrong.Body), msg(unknown.Body))
	}
	locked := b.Login(b.Get(web.AuthCodeURL("x")), "locked", "locked-password")
	if !strings.Contains(locked.Body, "locked") {
		t.Fatalf("locked account message missing: %.300s", msg(locked.Body))
	}
	e.dir.Down = true
	down := b.Login(b.Get(web.AuthCodeURL("x")), "alice", "alice-password")
	if down.Status != http.StatusServiceUnavailable || !strings.Contains(down.Body, "membership system") {
		t.Fatalf("AMS down: %d %.300s", down.Status, msg(down.Body))
	}
}
