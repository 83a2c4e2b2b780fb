package bridge_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	imissim "github.com/ssobridge/ssobridge/legacy/imis/sim"
)

var (
	amsCSRF  = regexp.MustCompile(`name="__RequestVerificationToken" value="([^"]+)"`)
	amsToken = regexp.MustCompile(`name="refresh_token" value="([^"]+)"`)
	amsForm  = regexp.MustCompile(`<form[^>]+action="([^"]+)"`)
)

// amsLogin signs the browser in on the simulated AMS website.
func amsLogin(t *testing.T, e *env, b *bridgetest.Browser, login, password string) {
	t.Helper()
	p := b.Get(e.issuer + "/demo-ams" + imissim.LoginPath)
	m := amsCSRF.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no AMS login form: %d %.300s", p.Status, p.Body)
	}
	out := b.Post(e.issuer+"/demo-ams"+imissim.LoginPath, url.Values{"__RequestVerificationToken": {m[1]}, "username": {login}, "password": {password}})
	if out.Status >= 400 {
		t.Fatalf("AMS login: %d %.300s", out.Status, out.Body)
	}
}

// iPart follows the AMS SSO page's auto-post form to the bridge, as the browser's script would.
func iPart(t *testing.T, e *env, b *bridgetest.Browser, ssoPage *bridgetest.Page) *bridgetest.Page {
	t.Helper()
	tok, action := amsToken.FindStringSubmatch(ssoPage.Body), amsForm.FindStringSubmatch(ssoPage.Body)
	if tok == nil || action == nil {
		t.Fatalf("no iPart form on %s: %.400s", ssoPage.URL, ssoPage.Body)
	}
	if action[1] != e.issuer+"/handoff/imis" {
		t.Fatalf("iPart posts to %q", action[1])
	}
	return amsPost(t, e, b, url.Values{"refresh_token": {tok[1]}})
}

// amsPost posts a hand-off form to the bridge as a browser does from a page of the AMS website:
// with its Origin (the simulated website is on the issuer's origin). A POST without Origin is
// confirmed on a page first, as one with Origin: null is.
func amsPost(t *testing.T, e *env, b *bridgetest.Browser, form url.Values) *bridgetest.Page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.issuer)
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("POST /handoff/imis: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &bridgetest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body), Location: resp.Header.Get("Location"), Header: resp.Header}
}

func TestHandoffFromLoginPage(t *testing.T) {
	e := newEnvWith(t, true)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	login := b.Get(web.AuthCodeURL("st", oidc.Nonce("nn")))
	if !strings.Contains(login.Body, "Continue with your member account on") {
		t.Fatal("no hand-off button on the login page")
	}
	f := login.Hidden()
	// The button sends the member to the AMS SSO page, which asks them to sign in there first.
	toAMS := b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}})
	if !strings.Contains(toAMS.URL.Path, "Login.aspx") {
		t.Fatalf("expected the AMS login page, got %s", toAMS.URL)
	}
	amsLogin(t, e, b, "alice", "alice-password")
	// Back on the SSO page (ReturnUrl), the iPart posts the refresh token to the bridge.
	sso := b.Get(e.issuer + "/demo-ams/sso?client=ssobridge")
	out := iPart(t, e, b, sso)
	q := out.Redirected(t)
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("hand-off did not return to the app: %v (%.300s)", q, out.Body)
	}
	tok, err := web.Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	_ = idt.Claims(&c)
	if len(c.AMR) != 1 || c.AMR[0] != "ams" || c.Nonce != "nn" || c.Email != "alice@example.org" {
		t.Fatalf("claims after hand-off: %+v", c)
	}
	events, _ := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "login.success"})
	if len(events) == 0 || events[0].Detail != "ams hand-off" {
		t.Fatalf("audit: %+v", events)
	}
}

func TestHandoffFailures(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) { c.AMS.Timeout = time.Second })
	sim := e.amsSim
	post := func(b *bridgetest.Browser, form url.Values) *bridgetest.Page {
		return amsPost(t, e, b, form)
	}
	reason := func() string {
		ev, _ := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "handoff.failure", Limit: 1})
		if len(ev) == 0 {
			return ""
		}
		return ev[0].Detail
	}
	signedIn := func(b *bridgetest.Browser) bool {
		return b.Get(e.issuer+"/account").Status == http.StatusOK
	}
	cases := []struct {
		name   string
		form   func() url.Values
		faults *imissim.Faults
		status int
		reason string
	}{
		{"missing field", func() url.Values { return url.Values{} }, nil, 400, "bad_request"},
		{"huge field", func() url.Values { return url.Values{"refresh_token": {strings.Repeat("a", 10000)}} }, nil, 400, "bad_request"},
		{"invalid token", func() url.Values { return url.Values{"refresh_token": {"0123456789abcdef0123456789abcdef"}} }, nil, 400, "invalid_grant"},
		{"unknown user", func() url.Values {
			tok, _ := sim.IssueRefreshToken("ghost", "ssobridge")
			return url.Values{"refresh_token": {tok}}
		}, nil, 403, "unknown_user"},
		{"locked member", func() url.Values {
			tok, _ := sim.IssueRefreshToken("locked", "ssobridge")
			return url.Values{"refresh_token": {tok}}
		}, nil, 403, "locked_out"},
		{"AMS returns 500", func() url.Values {
			tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
			return url.Values{"refresh_token": {tok}}
		}, &imissim.Faults{Status: 500}, 503, "ams_unavailable"},
		{"AMS returns garbage", func() url.Values {
			tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
			return url.Values{"refresh_token": {tok}}
		}, &imissim.Faults{Garbage: true}, 503, "ams_unavailable"},
		{"AMS too slow", func() url.Values {
			tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
			return url.Values{"refresh_token": {tok}}
		}, &imissim.Faults{Delay: 3 * time.Second}, 503, "ams_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.faults != nil {
				sim.SetFaults(*tc.faults)
				defer sim.SetFaults(imissim.Faults{})
			}
			b := e.browser()
			p := post(b, tc.form())
			if p.Status != tc.status || !strings.Contains(p.Body, "<h1>") || p.Location != "" {
				t.Fatalf("want a %d page, got %d %q %.200s", tc.status, p.Status, p.Location, p.Body)
			}
			if r := reason(); r != tc.reason {
				t.Fatalf("audit reason %q, want %q", r, tc.reason)
			}
			if signedIn(b) {
				t.Fatal("a failed hand-off opened a session")
			}
		})
	}
	t.Run("replayed token", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		b := e.browser()
		if p := post(b, url.Values{"refresh_token": {tok}}); !signedIn(b) {
			t.Fatalf("first use failed: %d %.200s", p.Status, p.Body)
		}
		b2 := e.browser()
		p := post(b2, url.Values{"refresh_token": {tok}})
		if p.Status != 400 || reason() != "replayed" || signedIn(b2) {
			t.Fatalf("replay: %d %q", p.Status, reason())
		}
	})
}

// TestHandoffNeverReplacesAnotherMember: login CSRF defence.
func TestHandoffNeverReplacesAnotherMember(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s"), "bob", "bob-password")
	tok, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	p := b.Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {tok}})
	if !strings.Contains(p.Body, "Switch member?") || !strings.Contains(p.Body, "Bob Staff") {
		t.Fatalf("no confirmation page: %d %.300s", p.Status, p.Body)
	}
	f := p.Hidden()
	stay := b.Post(e.issuer+"/handoff/confirm", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"stay"}})
	if !strings.Contains(b.Get(e.issuer+"/account").Body, "bob") {
		t.Fatalf("staying replaced the session: %.200s", stay.Body)
	}
	// Without the CSRF token nothing happens.
	if p := b.Post(e.issuer+"/handoff/confirm", url.Values{"t": {f.Get("t")}, "decision": {"switch"}}); p.Status != http.StatusForbidden {
		t.Fatalf("confirm without csrf: %d", p.Status)
	}
	b.Post(e.issuer+"/handoff/confirm", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"switch"}})
	if acc := b.Get(e.issuer + "/account").Body; !strings.Contains(acc, "alice") || strings.Contains(acc, ">bob<") {
		t.Fatalf("switch did not sign in alice: %.300s", acc)
	}
	// The ticket is single-use.
	// (The CSRF token from before the sign-in is no longer valid either: a new browser id.)
	again := b.Post(e.issuer+"/handoff/confirm", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"switch"}})
	if again.Status != 400 && again.Status != 403 {
		t.Fatalf("ticket reused: %d", again.Status)
	}
}

func TestTokenExchangeAMSRefreshToken(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) { c.AMS.ExchangeClients = []string{"exchanger"} })
	sim := e.amsSim
	_, verifier := e.oauth("exchanger", webSecret, e.rp+"/exchanger", oauth2.AuthStyleInHeader)
	exchange := func(clientID, secret, token string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{
			"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": token,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid profile email offline_access",
		}, clientID, secret)
	}
	tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
	resp, body := exchange("exchanger", webSecret, tok)
	if resp.StatusCode != 200 || body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", resp.StatusCode, body)
	}
	idt, err := verifier.Verify(e.ctx(), body["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	_ = idt.Claims(&c)
	if c.Email != "alice@example.org" || len(c.AMR) == 0 || c.AMR[0] != "ams" {
		t.Fatalf("claims: %+v", c)
	}
	// The bridge refresh token works like any other.
	resp, body2 := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": body["refresh_token"].(string)}, "exchanger", webSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh after exchange: %v", body2)
	}
	t.Run("no refresh token without offline_access", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		resp, body := postForm(t, tokenURL(e), map[string]string{
			"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": tok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}, "exchanger", webSecret)
		if resp.StatusCode != 200 || body["refresh_token"] != nil || body["access_token"] == nil {
			t.Fatalf("exchange without offline_access: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("replay", func(t *testing.T) {
		resp, body := exchange("exchanger", webSecret, tok)
		wantOAuthError(t, resp, body, 400, "invalid_grant")
	})
	t.Run("client not configured for it", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		resp, body := exchange("web", webSecret, tok)
		wantOAuthError(t, resp, body, 400, "unauthorized_client")
	})
	t.Run("wrong secret", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		resp, body := exchange("exchanger", "nope", tok)
		wantOAuthError(t, resp, body, 401, "invalid_client")
	})
	t.Run("invalid AMS token", func(t *testing.T) {
		resp, body := exchange("exchanger", webSecret, "not-a-token")
		wantOAuthError(t, resp, body, 400, "invalid_grant")
	})
	t.Run("unknown token type", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token": "x", "subject_token_type": "urn:example:nope"}, "exchanger", webSecret)
		wantOAuthError(t, resp, body, 400, "invalid_request")
	})
}

// TestSingleSignOff: end_session at the bridge also signs out of the AMS website, then returns
// to the app's registered post-logout URI; /logout/ams ends the bridge session.
func TestSingleSignOff(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")
	code := e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	tok, _ := web.Exchange(e.ctx(), code)
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {e.rp + "/signed-out"}}
	out := b.Get(e.issuer + "/end_session?" + q.Encode())
	if !strings.HasPrefix(out.Location, e.rp+"/signed-out") {
		t.Fatalf("end_session did not come back to the app: %q (at %s)", out.Location, out.URL)
	}
	if home := b.Get(e.issuer + "/demo-ams/"); strings.Contains(home.Body, "alice") {
		t.Fatal("still signed in at the AMS website")
	}
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("still signed in at the bridge")
	}
	// And from the AMS side: /logout/ams ends the bridge session when the AMS website links
	// to it; from anywhere else (a cross-site link) it asks first.
	e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	amsLogout := func(referer string) *bridgetest.Page {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/logout/ams", nil)
		if referer != "" {
			req.Header.Set("Referer", referer)
		}
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return &bridgetest.Page{Status: resp.StatusCode, Body: string(body)}
	}
	for _, ref := range []string{"", "https://evil.example/page"} {
		if p := amsLogout(ref); p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign out?") {
			t.Fatalf("/logout/ams from %q: %d %.200s", ref, p.Status, p.Body)
		}
		if b.Get(e.issuer+"/account").Status != http.StatusOK {
			t.Fatalf("/logout/ams from %q ended the session without asking", ref)
		}
	}
	amsLogout(e.issuer + "/demo-ams/")
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("/logout/ams left the session")
	}
}
