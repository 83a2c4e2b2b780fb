package bridge_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// TestHandoffSatisfiesAMSSecondFactor (brief M item 1, s17): a sign-in the AMS website's
// hand-off opened (first amr value "ams") satisfies a second-factor requirement whose only
// reason is the AMS's own (legacy.Member.SecondFactor: iMIS MultiFactorInfo or the site
// switch), at every entry point: the sign-in, a later app's completion on the hand-off session,
// a device approval from it, the refresh of its family and the AMS token exchange; its tokens
// say amr ["ams"] and the base acr, never mfa. A requirement for any other reason (here the
// app's mfa: required) still asks the bridge's factor; a password sign-in of the same member
// (another tab of the same browser) does not inherit the hand-off's standing, and a family
// granted on the password alone is refused at refresh. Before, the hand-off of such a member
// was sent to the bridge's second-factor step, its exchange was refused (access_denied) and its
// refresh would have been.
func TestHandoffSatisfiesAMSSecondFactor(t *testing.T) {
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.AMS.ExchangeClients = []string{"exchanger"}
		for i := range c.Clients {
			if c.Clients[i].ID == "other" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	refresh := func(client, secret, rt string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt}, client, secret)
	}
	authOf := func(t *testing.T, raw string) mfaClaims {
		t.Helper()
		idt, err := verifier.Verify(e.ctx(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var c mfaClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// A family bob was granted on the password alone before the AMS asked him a factor.
	amsFactor(e, "bob", false)
	pwTok, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("p", oidc.Nonce("n")), "bob", "bob-password"))
	if err != nil || pwTok.RefreshToken == "" {
		t.Fatalf("password sign-in: %v", err)
	}
	amsFactor(e, "bob", true)

	b := e.browser() // bob's hand-off session
	var handoffRT string
	t.Run("hand-off sign-in", func(t *testing.T) {
		p := handoffAs(t, e, b, web.AuthCodeURL("h", oidc.Nonce("n")), "bob", "bob-password")
		code := p.Redirected(t).Get("code")
		if code == "" {
			t.Fatalf("the hand-off of a member the AMS asks a factor of did not reach the app: %d %s %q", p.Status, p.URL, p.Location)
		}
		tok, err := web.Exchange(e.ctx(), code)
		if err != nil {
			t.Fatal(err)
		}
		if c := authOf(t, tok.Extra("id_token").(string)); !slices.Equal(c.AMR, []string{"ams"}) || c.ACR == sso.ACRMFA {
			t.Fatalf("hand-off tokens: amr %v acr %q, want [ams] and the base acr", c.AMR, c.ACR)
		}
		handoffRT = tok.RefreshToken
		noFactor(t, e, "bob", "hand-off")
	})

	t.Run("refresh", func(t *testing.T) {
		resp, body := refresh("web", webSecret, handoffRT)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh of the hand-off family: %d %v", resp.StatusCode, body)
		}
		if c := authOf(t, body["id_token"].(string)); !slices.Equal(c.AMR, []string{"ams"}) {
			t.Fatalf("refreshed amr %v", c.AMR)
		}
		resp, body = refresh("web", webSecret, pwTok.RefreshToken)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("another app on the hand-off session", func(t *testing.T) {
		if q := b.Get(web.AuthCodeURL("h2", oidc.Nonce("n"))).Redirected(t); q.Get("code") == "" {
			t.Fatalf("the hand-off session at the same app: %v", q)
		}
		// The app requires a factor of its own: the step, where the hand-off session enrols.
		p := b.Get(other.AuthCodeURL("o", oidc.Nonce("n")))
		if p.URL.Path != "/login/mfa" || !totpSecretRe.MatchString(p.Body) {
			t.Fatalf("mfa: required on the hand-off session: %d %s %q, want the enrolment step", p.Status, p.URL, p.Location)
		}
		// Its "continue" without a factor does not reach the app (nor when posted again).
		for range 2 {
			cont := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {p.Hidden().Get("csrf")}, "c": {p.URL.Query().Get("c")}, "method": {"continue"}})
			if strings.Contains(cont.Location, "code=") {
				t.Fatalf("continue without a factor at mfa: required: %q", cont.Location)
			}
		}
	})

	t.Run("password in another tab", func(t *testing.T) {
		// The same browser signs bob in again with the password (prompt=login): the AMS's
		// requirement asks the bridge's factor of that sign-in, which he has not enrolled.
		p := b.Login(b.Get(web.AuthCodeURL("pw", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "login"))), "bob", "bob-password")
		refusedToEnrol(t, p, "a password sign-in next to the hand-off session")
		c := p.URL.Query().Get("c")
		for range 2 { // posted again: still no way through
			cont := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {freshCSRF(t, e, b)}, "c": {c}, "method": {"continue"}})
			if strings.Contains(cont.Location, "code=") {
				t.Fatalf("the password sign-in's step let continue through: %q", cont.Location)
			}
		}
		// A fresh browser's password sign-in likewise.
		o := e.browser()
		refusedToEnrol(t, o.Login(o.Get(web.AuthCodeURL("pw2", oidc.Nonce("n"))), "bob", "bob-password"), "a password sign-in")
		// The hand-off session is still the hand-off's.
		q := b.Get(web.AuthCodeURL("h3", oidc.Nonce("n"))).Redirected(t)
		if c := idTokenAuth(t, e, web, verifier, q.Get("code")); !slices.Equal(c.AMR, []string{"ams"}) {
			t.Fatalf("the hand-off session after a password attempt: amr %v", c.AMR)
		}
	})

	t.Run("device approval", func(t *testing.T) {
		cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		p := approveWithSession(t, e, b, da.UserCode)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "return to your device") {
			t.Fatalf("device approval from the hand-off session: %d %s %.500s", p.Status, p.URL, p.Body)
		}
		tok, err := cfg.DeviceAccessToken(e.ctx(), da)
		if err != nil {
			t.Fatalf("device token: %v", err)
		}
		// Its refresh: the device family is the hand-off's too.
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken, "client_id": "tv"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh of the device family: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("token exchange", func(t *testing.T) {
		amsTok, err := e.amsSim.IssueRefreshToken("bob", "ssobridge")
		if err != nil {
			t.Fatal(err)
		}
		resp, body := postForm(t, tokenURL(e), map[string]string{
			"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": amsTok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid offline_access"}, "exchanger", webSecret)
		if resp.StatusCode != http.StatusOK || body["refresh_token"] == nil {
			t.Fatalf("exchange of bob's AMS token: %d %v", resp.StatusCode, body)
		}
		resp, body = refresh("exchanger", webSecret, body["refresh_token"].(string))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh after the exchange: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("password grant", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "bob",
			"password": "bob-password", "scope": "openid"}, "legacy", legacySecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	if f, err := e.store.TOTP(e.ctx(), identitySubject(t, e, mustMember(t, e, "bob").Key)); err == nil && f.Confirmed {
		t.Fatal("bob has an authenticator app he never confirmed")
	}
}

// approveWithSession approves userCode in b, which has a session already: /device with the code,
// then the confirmation every device approval asks; it returns the last page.
func approveWithSession(t *testing.T, e *env, b *bridgetest.Browser, userCode string) *bridgetest.Page {
	t.Helper()
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(userCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {userCode}})
	if p.URL.Path == "/consent" {
		f := p.Hidden()
		p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	return p
}
