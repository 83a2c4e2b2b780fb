package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"golang.org/x/oauth2"
)

// TestSignInLinkCannotBeRedeemedElsewhere: an attacker starts a sign-in (their own PKCE
// verifier) and gets a signed-in member to open its login link. The request was bound to the
// attacker's browser when /authorize made it, so the member's browser does not complete it; the
// attacker's browser cannot collect a code from the callback, and neither can the member's.
func TestSignInLinkCannotBeRedeemedElsewhere(t *testing.T) {
	e := newEnv(t)
	victim := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(victim, web.AuthCodeURL("v"), "alice", "alice-password")

	attacker := e.browser()
	app, _ := e.oauth("mobile", "", "http://127.0.0.1/mobile/cb", oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	attacker.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := attacker.Get(app.AuthCodeURL("a", oauth2.S256ChallengeOption(verifier)))
	id := url.Values{"id": {start.Hidden().Get("id")}} // the login form answers /authorize
	if start.Location != "" || id.Get("id") == "" {
		t.Fatalf("no login form: %d %q", start.Status, start.Location)
	}
	loginLink := e.issuer + "/login?" + id.Encode()

	// The member opens the link: the request is the attacker's browser's, not completed.
	if p := victim.Get(loginLink); p.Location != "" || p.Status != http.StatusForbidden || !strings.Contains(p.Body, "another browser") {
		t.Fatalf("member's browser: %d %q", p.Status, p.Location)
	}
	// The attacker's browser asks the callback for a code: refused.
	p := attacker.Get(e.issuer + "/authorize/callback?id=" + url.QueryEscape(id.Get("id")))
	if p.Status != http.StatusForbidden || strings.Contains(p.Location, "code=") {
		t.Fatalf("attacker got %d %q", p.Status, p.Location)
	}
	// And the member's own browser gets no second code either.
	again := victim.Get(e.issuer + "/authorize/callback?id=" + url.QueryEscape(id.Get("id")))
	if strings.Contains(again.Location, "code=") {
		t.Fatalf("a second code was issued: %q", again.Location)
	}
}

// TestHandoffLoginCSRF: a hand-off POST from another site is refused, and a continue link made
// by one browser (the attacker's) does not sign in another (the victim's).
func TestHandoffLoginCSRF(t *testing.T) {
	e := newEnvWith(t, true)
	sim := e.amsSim
	tok, _ := sim.IssueRefreshToken("bob", "ssobridge")
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, _ := doJSON(t, req)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", resp.StatusCode)
	}
	attacker := e.browser()
	attacker.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tok, _ = sim.IssueRefreshToken("bob", "ssobridge")
	p := attacker.Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {tok}})
	if !strings.HasPrefix(p.Location, "/handoff/continue?h=") {
		t.Fatalf("no continue link: %d %q", p.Status, p.Location)
	}
	victim := e.browser()
	victim.Get(e.issuer + p.Location)
	if victim.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("the victim's browser was signed in as the attacker")
	}
}

// TestParametersOnlyInTheBody: the token endpoint refuses parameters in the URL (op would read
// them and skip the grant routing and checks); userinfo refuses tokens in the URL; token
// responses are not cacheable; end_session with an unknown client is a 400 page, not a 500.
func TestParametersOnlyInTheBody(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	req, _ := http.NewRequest(http.MethodPost, tokenURL(e)+"?grant_type=authorization_code",
		strings.NewReader(url.Values{"code": {code}, "redirect_uri": {e.rp + "/callback"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	resp, body := doJSON(t, req)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")

	resp, body = postForm(t, tokenURL(e), map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": e.rp + "/callback"}, "web", webSecret)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response: %d cache-control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	resp, _ = getJSON(t, e.issuer+"/userinfo?access_token="+url.QueryEscape(body["access_token"].(string)))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("userinfo with the token in the URL: %d", resp.StatusCode)
	}
	p := e.browser().Get(e.issuer + "/end_session?client_id=nobody&post_logout_redirect_uri=https://evil.example/")
	if p.Status != http.StatusBadRequest || p.Location != "" || !strings.Contains(p.Body, "<h1>") {
		t.Fatalf("end_session with an unknown client: %d %q", p.Status, p.Location)
	}
}

// TestLogoutHintMustBeAnIDToken: an at+jwt access token given as id_token_hint does not sign
// the member out silently (a resource server holding it could otherwise do so); the member is
// asked to confirm.
func TestLogoutHintMustBeAnIDToken(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "jwtapp", Name: "JWT App", Secret: webSecret, Trusted: true,
			AccessTokenFormat: "jwt", RedirectURIs: []string{"http://127.0.0.1:9/app/jwt"}})
	})
	cfg, _ := e.oauth("jwtapp", webSecret, "http://127.0.0.1:9/app/jwt", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := cfg.Exchange(e.ctx(), e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("not a JWT access token: %q", tok.AccessToken)
	}
	p := b.Get(e.issuer + "/end_session?id_token_hint=" + url.QueryEscape(tok.AccessToken))
	if !strings.Contains(p.Body, "Sign out?") {
		t.Fatalf("an access token as hint signed out without asking: %d %q", p.Status, p.Location)
	}
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("session ended without confirmation")
	}
	// A real ID token still signs out at once.
	p = b.Get(e.issuer + "/end_session?id_token_hint=" + url.QueryEscape(tok.Extra("id_token").(string)))
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatalf("ID token hint did not sign out: %d %.200s", p.Status, p.Body)
	}
}

// TestRequireCurrentBlocksSignIn: an app whose provisioning requires a current membership does
// not get a code for a lapsed member (its shadow user would be deactivated at the same time).
func TestRequireCurrentBlocksSignIn(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		c.Provisioning = map[string]provisioning.Target{"web": {RequireCurrent: true, AllowInternal: true,
			Settings: &webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}}
	})
	lapse(e, "alice")
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	p := b.Login(b.Get(web.AuthCodeURL("s")), "alice", "alice-password")
	if p.Status != http.StatusForbidden || p.Location != "" {
		t.Fatalf("lapsed member at a require_current app: %d %q", p.Status, p.Location)
	}
}

// TestPromptNoneWithHintForAnotherMember: a client that sends prompt=none with an ID token
// hint for bob gets login_required from a browser where alice is signed in, never alice's code
// (OIDC Core 3.1.2.1); with alice's own hint it gets a code.
func TestPromptNoneWithHintForAnotherMember(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	idToken := func(b *bridgetest.Browser, login, password string) string {
		tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), login, password))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Extra("id_token").(string)
	}
	bobs := idToken(e.browser(), "bob", "bob-password")
	alice := e.browser()
	alices := idToken(alice, "alice", "alice-password")
	q := alice.Get(web.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", bobs))).Redirected(t)
	if q.Get("error") != "login_required" {
		t.Fatalf("prompt=none with bob's hint in alice's browser: %v", q)
	}
	q = alice.Get(web.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", alices))).Redirected(t)
	if q.Get("code") == "" {
		t.Fatalf("prompt=none with alice's own hint: %v", q)
	}
}
