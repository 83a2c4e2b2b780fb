package bridge_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/sso"
)

// A sign-in request completes once, for one browser (issue 10, critical): the attacker signs in
// as himself on a request of a public client, keeps its code, and gets the request completed
// again by another member through one of the completing paths. Redeeming the code must give the
// attacker's own tokens or be refused, never the other member's.

const pubThirdRedirect = "http://127.0.0.1:9/pubthird/cb"

// withPublicThirdParty adds an untrusted public client (consent is asked).
func withPublicThirdParty(cfg *bridge.Config) {
	cfg.Clients = append(cfg.Clients, config.Client{ID: "pubthird", Name: "Public Third Party", Public: true,
		RedirectURIs: []string{pubThirdRedirect}})
}

// attackerRequest is a sign-in request completed by the attacker (bob) in his own browser.
type attackerRequest struct {
	clientID, redirect, verifier string
	id                           string // the auth request id (from the login link)
	code                         string
	browser                      *bridgetest.Browser
}

// startAttack runs bob through /authorize (PKCE) for clientID, the login form and, for an
// untrusted client, the consent form; it keeps the code without redeeming it.
func startAttack(t *testing.T, e *env, clientID, redirect string) *attackerRequest {
	t.Helper()
	a := &attackerRequest{clientID: clientID, redirect: redirect, verifier: oauth2.GenerateVerifier(), browser: e.browser()}
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: e.endpoint(), RedirectURL: redirect, Scopes: []string{"openid", "profile"}}
	login := a.browser.Get(cfg.AuthCodeURL("attacker-state", oauth2.S256ChallengeOption(a.verifier)))
	a.id = login.Hidden().Get("id") // the login form answers /authorize
	if login.URL.Path != "/authorize" || a.id == "" {
		t.Fatalf("no login page: %s %d", login.URL, login.Status)
	}
	p := a.browser.Login(login, "bob", "bob-password")
	if p.URL.Path == "/consent" {
		f := p.Hidden()
		p = a.browser.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	a.code = p.Redirected(t).Get("code")
	if a.code == "" || a.id == "" {
		t.Fatalf("attacker has no code: %q %q", a.code, a.id)
	}
	return a
}

// redeem exchanges the attacker's code and returns the ID token's subject ("" when refused).
func (a *attackerRequest) redeem(t *testing.T, e *env) string {
	t.Helper()
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "authorization_code", "code": a.code,
		"redirect_uri": a.redirect, "client_id": a.clientID, "code_verifier": a.verifier})
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	idt, _ := body["id_token"].(string)
	return jwtSubject(t, idt)
}

func jwtSubject(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sub
}

// subjectOf signs a member in to the web app in a fresh browser and returns their subject.
func subjectOf(t *testing.T, e *env, login, password string) string {
	t.Helper()
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), login, password)
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	return idt.Subject
}

// signedInBrowser returns a browser with an SSO session of the member.
func signedInBrowser(t *testing.T, e *env, login, password string) *bridgetest.Browser {
	t.Helper()
	b := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(b, web.AuthCodeURL("s"), login, password)
	return b
}

// csrfOf returns a CSRF token valid for the browser (from a login page of its own).
func csrfOf(t *testing.T, e *env, b *bridgetest.Browser) string {
	t.Helper()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	p := b.Get(web.AuthCodeURL("own", oauth2.SetAuthURLParam("prompt", "login")))
	csrf := p.Hidden().Get("csrf")
	if csrf == "" {
		t.Fatalf("no csrf token on %s: %d %.300s", p.URL, p.Status, p.Body)
	}
	return csrf
}

// checkRedeem fails unless the attacker's code gives bob's tokens or nothing.
func checkRedeem(t *testing.T, e *env, a *attackerRequest, bob, alice string) {
	t.Helper()
	switch sub := a.redeem(t, e); sub {
	case "", bob:
	case alice:
		t.Fatal("the attacker's code gave the other member's tokens")
	default:
		t.Fatalf("the attacker's code gave subject %q (bob %q, alice %q)", sub, bob, alice)
	}
}

// TestCompletedRequestLoginPageWithSession: the member's browser, signed in, opens the login
// link of a request the attacker already completed.
func TestCompletedRequestLoginPageWithSession(t *testing.T) {
	e := newEnv(t)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	a := startAttack(t, e, "mobile", "http://127.0.0.1/mobile/cb")
	victim := signedInBrowser(t, e, "alice", "alice-password")
	p := victim.Get(e.issuer + "/login?id=" + url.QueryEscape(a.id))
	if p.Location != "" || !strings.Contains(p.Body, "already used") {
		t.Fatalf("a completed request was completed again: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	checkRedeem(t, e, a, bob, alice)
}

// TestCompletedRequestLoginForm: the member types her password into a login form posted for
// the attacker's completed request.
func TestCompletedRequestLoginForm(t *testing.T) {
	e := newEnv(t)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	a := startAttack(t, e, "mobile", "http://127.0.0.1/mobile/cb")
	victim := e.browser()
	csrf := csrfOf(t, e, victim)
	p := victim.Post(e.issuer+"/login", url.Values{"csrf": {csrf}, "id": {a.id}, "login": {"alice"}, "password": {"alice-password"}})
	if p.Location != "" || !strings.Contains(p.Body, "already used") {
		t.Fatalf("a completed request was completed again: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	checkRedeem(t, e, a, bob, alice)
}

// TestCompletedRequestConsentForm: the member's consent form is posted for the attacker's
// completed request of an untrusted public app.
func TestCompletedRequestConsentForm(t *testing.T) {
	e := newEnv(t, withPublicThirdParty)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	a := startAttack(t, e, "pubthird", pubThirdRedirect)
	victim := signedInBrowser(t, e, "alice", "alice-password")
	csrf := csrfOf(t, e, victim)
	p := victim.Post(e.issuer+"/consent", url.Values{"csrf": {csrf}, "id": {a.id}, "decision": {"allow"}})
	if p.Location != "" || !strings.Contains(p.Body, "already used") {
		t.Fatalf("a completed request was completed again: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	checkRedeem(t, e, a, bob, alice)
}

// TestCompletedRequestHandoff: the member's browser is sent to the AMS hand-off with the
// attacker's completed request as its pending one.
func TestCompletedRequestHandoff(t *testing.T) {
	e := newEnvWith(t, true)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	a := startAttack(t, e, "mobile", "http://127.0.0.1/mobile/cb")
	victim := e.browser()
	csrf := csrfOf(t, e, victim)
	victim.Post(e.issuer+"/handoff/start", url.Values{"csrf": {csrf}, "id": {a.id}})
	amsLogin(t, e, victim, "alice", "alice-password")
	out := iPart(t, e, victim, victim.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
	if out.Location != "" {
		t.Fatalf("the hand-off completed the attacker's request: %q", out.Location)
	}
	checkRedeem(t, e, a, bob, alice)
}

// TestCompletedRequestDevice: the internal request of a device approval, completed by bob,
// opened again in alice's browser, never approves the device for alice.
func TestCompletedRequestDevice(t *testing.T) {
	e := grantEnv(t)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	attacker := e.browser()
	p := attacker.Get(e.issuer + "/device?user_code=" + url.QueryEscape(da.UserCode))
	p = attacker.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	internal := p.URL.String()
	p = attacker.Login(p, "bob", "bob-password")
	f := p.Hidden()
	attacker.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})

	victim := signedInBrowser(t, e, "alice", "alice-password")
	p = victim.Get(internal)
	if f := p.Hidden(); f.Get("id") != "" && p.URL.Path == "/consent" {
		victim.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode == http.StatusOK {
		if sub := jwtSubject(t, body["id_token"].(string)); sub != bob {
			t.Fatalf("device tokens for %q (bob %q, alice %q)", sub, bob, alice)
		}
	}
}

// TestRequestBoundToFirstBrowser: a login link opened first in one browser cannot be completed
// in another (which is offered to start over), not even before it was completed.
func TestRequestBoundToFirstBrowser(t *testing.T) {
	e := newEnv(t)
	bob, alice := subjectOf(t, e, "bob", "bob-password"), subjectOf(t, e, "alice", "alice-password")
	a := &attackerRequest{clientID: "mobile", redirect: "http://127.0.0.1/mobile/cb", verifier: oauth2.GenerateVerifier(), browser: e.browser()}
	cfg := &oauth2.Config{ClientID: "mobile", Endpoint: e.endpoint(), RedirectURL: a.redirect, Scopes: []string{"openid"}}
	login := a.browser.Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(a.verifier)))
	a.id = login.Hidden().Get("id") // the login form answers /authorize

	// Signed in elsewhere: the link is not completed silently.
	victim := signedInBrowser(t, e, "alice", "alice-password")
	p := victim.Get(e.issuer + "/login?id=" + url.QueryEscape(a.id))
	if p.Location != "" || !strings.Contains(p.Body, "another browser") {
		t.Fatalf("a request opened in another browser was completed: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	// Nor by typing a password into a form posted for it.
	csrf := csrfOf(t, e, victim)
	p = victim.Post(e.issuer+"/login", url.Values{"csrf": {csrf}, "id": {a.id}, "login": {"alice"}, "password": {"alice-password"}})
	if p.Location != "" || !strings.Contains(p.Body, "another browser") {
		t.Fatalf("login form in another browser: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	// The first browser still completes it, for its own member.
	a.code = a.browser.Login(login, "bob", "bob-password").Redirected(t).Get("code")
	if sub := a.redeem(t, e); sub != bob || sub == alice {
		t.Fatalf("first browser got %q, want bob %q", sub, bob)
	}
}

// TestCallbackSingleID: the authorize callback answers GET only, and reads exactly one id
// (a POST body id or a repeated id cannot smuggle another request's code out).
func TestCallbackSingleID(t *testing.T) {
	e := newEnv(t)
	app, _ := e.oauth("mobile", "", "http://127.0.0.1/mobile/cb", oauth2.AuthStyleInParams)
	noFollow := func(b *bridgetest.Browser) *bridgetest.Browser {
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return b
	}
	complete := func(b *bridgetest.Browser) string {
		// /authorize completes the request with the browser's session at once.
		start := b.Get(app.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if !strings.HasPrefix(start.Location, "/authorize/callback?id=") {
			t.Fatalf("request not completed by the session: %d %q", start.Status, start.Location)
		}
		return strings.TrimPrefix(start.Location, "/authorize/callback?id=")
	}
	attacker := noFollow(signedInBrowser(t, e, "bob", "bob-password"))
	victim := noFollow(signedInBrowser(t, e, "alice", "alice-password"))
	idA, idB := complete(attacker), complete(victim) // B: completed, its code not collected yet

	// The body form: POST /authorize/callback?id=A with body id=B.
	p := attacker.Post(e.issuer+"/authorize/callback?id="+idA, url.Values{"id": {idB}})
	if strings.Contains(p.Location, "code=") || p.Status != http.StatusMethodNotAllowed {
		t.Fatalf("POST callback: %d %q", p.Status, p.Location)
	}
	// Two ids in the query.
	p = attacker.Get(e.issuer + "/authorize/callback?id=" + idA + "&id=" + idB)
	if strings.Contains(p.Location, "code=") {
		t.Fatalf("repeated id: %d %q", p.Status, p.Location)
	}
	// The genuine GETs still work, each in its own browser.
	for _, c := range []struct {
		b  *bridgetest.Browser
		id string
	}{{attacker, idA}, {victim, idB}} {
		if p := c.b.Get(e.issuer + "/authorize/callback?id=" + c.id); !strings.Contains(p.Location, "code=") {
			t.Fatalf("genuine callback: %d %q %.200s", p.Status, p.Location, p.Body)
		}
	}
}
