package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// The account choice (prompt=select_account, OIDC Core 3.1.2.1), the member named on the
// consent page with "Use another account", and prompt=consent for trusted apps: each transition
// from each entry point, replayed, out of order and from another browser.

// accountSub exchanges code at client cfg and returns the ID token's subject.
func accountSub(t *testing.T, e *env, cfg *oauth2.Config, code string) string {
	t.Helper()
	if code == "" {
		t.Fatal("no code")
	}
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := oidcVerifier(t, e, cfg.ClientID).Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	return idt.Subject
}

// choose posts the account choice on page p (its form as shown) with choice.
func choose(b *bridgetest.Browser, p *bridgetest.Page, choice string) *bridgetest.Page {
	b.T.Helper()
	f := p.Hidden()
	if f.Get("shown") == "" || f.Get("id") == "" {
		b.T.Fatalf("no account choice at %s (%d): %.600s", p.URL, p.Status, p.Body)
	}
	return b.Post(b.Base+"/login/account", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "shown": {f.Get("shown")}, "choice": {choice}})
}

func codeOf(t *testing.T, p *bridgetest.Page, state string) string {
	t.Helper()
	q := p.Redirected(t)
	if q.Get("error") != "" || q.Get("state") != state {
		t.Fatalf("redirect %s, want a code with state %s", p.Location, state)
	}
	return q.Get("code")
}

func TestSelectAccountChoice(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	alice, bob := subjectOf(t, e, "alice", "alice-password"), subjectOf(t, e, "bob", "bob-password")
	selectURL := func(cfg *oauth2.Config, state string) string {
		return cfg.AuthCodeURL(state, oauth2.SetAuthURLParam("prompt", "select_account"))
	}
	signedIn := func(login, password string) *bridgetest.Browser {
		b := e.browser()
		if e.signIn(b, web.AuthCodeURL("s0"), login, password) == "" {
			t.Fatal("no sign-in")
		}
		return b
	}
	choicePage := func(b *bridgetest.Browser, u, label string) *bridgetest.Page {
		t.Helper()
		p := b.Get(u)
		if p.Location != "" || p.Status != http.StatusOK || !strings.Contains(p.Body, "Continue as "+label) ||
			!strings.Contains(p.Body, "Use another account") {
			t.Fatalf("want the account choice naming %s, got %d %s %.600s", label, p.Status, p.Location, p.Body)
		}
		return p
	}

	t.Run("continue, then the form again", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s1"), "Alice Archer (alice)")
		if sub := accountSub(t, e, web, codeOf(t, choose(b, p, "continue"), "s1")); sub != alice {
			t.Fatalf("continue: code for %s, want alice", sub)
		}
		again := choose(b, p, "continue")
		if again.Location != "" || again.Status != http.StatusConflict {
			t.Fatalf("the form sent again: %d %s, want the already-used page", again.Status, again.Location)
		}
	})

	t.Run("the login page again is the choice again", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s1"), "Alice Archer (alice)")
		choicePage(b, e.issuer+"/login?id="+url.QueryEscape(p.Hidden().Get("id")), "Alice Archer (alice)")
		if sub := accountSub(t, e, web, codeOf(t, choose(b, p, "continue"), "s1")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
	})

	t.Run("use another account", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s2"), "Alice Archer (alice)")
		form := choose(b, p, "other")
		if form.Location != "" || form.Hidden().Get("id") != p.Hidden().Get("id") || !strings.Contains(form.Body, `name="password"`) {
			t.Fatalf("use another account: %d %s %.600s", form.Status, form.Location, form.Body)
		}
		// Choosing to, and failing a sign-in, ends nothing: alice is still signed in here.
		if bad := b.Login(form, "bob", "wrong"); bad.Location != "" || bad.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", bad.Status, bad.Location)
		}
		if sub := accountSub(t, e, web, e.signIn(b, web.AuthCodeURL("s3", oauth2.SetAuthURLParam("prompt", "none")), "", "")); sub != alice {
			t.Fatalf("after a failed sign-in as another member the session is %s's, want alice's", sub)
		}
		p = choicePage(b, selectURL(web, "s4"), "Alice Archer (alice)")
		if sub := accountSub(t, e, web, codeOf(t, b.Login(choose(b, p, "other"), "bob", "bob-password"), "s4")); sub != bob {
			t.Fatalf("another account: code for %s, want bob", sub)
		}
		// The browser's session is bob's now (alice's ended once his sign-in won).
		choicePage(b, selectURL(web, "s5"), "Bob Staff (bob)")
		// The choice form sent again after the request finished: refused (the sign-in gave the
		// browser a new CSRF token; the request is used anyway), nothing changes.
		if again := choose(b, p, "continue"); again.Location != "" || again.Status < 400 {
			t.Fatalf("continue after another account finished the request: %d %s", again.Status, again.Location)
		}
	})

	t.Run("another member signed in since the page", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s6"), "Alice Archer (alice)")
		// Another tab: bob signs in with a fresh sign-in for another request.
		login := b.Get(web.AuthCodeURL("s7", oauth2.SetAuthURLParam("prompt", "login")))
		if accountSub(t, e, web, codeOf(t, b.Login(login, "bob", "bob-password"), "s7")) != bob {
			t.Fatal("bob's sign-in")
		}
		// "Continue as Alice" is not taken as bob's choice: the form is refused (bob's sign-in
		// gave the browser a new CSRF token), and the request is still pending.
		if again := choose(b, p, "continue"); again.Location != "" || again.Status != http.StatusForbidden {
			t.Fatalf("continue after another member signed in: %d %s %.600s", again.Status, again.Location, again.Body)
		}
		again := choicePage(b, e.issuer+"/login?id="+url.QueryEscape(p.Hidden().Get("id")), "Bob Staff (bob)")
		if sub := accountSub(t, e, web, codeOf(t, choose(b, again, "continue"), "s6")); sub != bob {
			t.Fatalf("code for %s, want bob", sub)
		}
	})

	t.Run("a choice naming another member than the session's", func(t *testing.T) {
		// The form's CSRF token is right but it named another member (shown): not taken as
		// this member's choice; the page again, naming the session's member.
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s11"), "Alice Archer (alice)")
		f := p.Hidden()
		// The form does not identify the member to whoever sees the page's source (review s17
		// R1-5: it carried the SHA-256 of "account-choice:" and the subject).
		if f.Get("shown") == sso.HashToken("account-choice:"+alice) {
			t.Fatal("the account choice's form carries an unkeyed hash of the subject")
		}
		// Each refusal is audited as what it is: a value that is no session's, or another one.
		var got *bridgetest.Page
		for _, c := range []struct{ shown, detail string }{
			{"", "names no session"},
			{"another", "names no session"},
			{sso.HashToken("account-choice:another session"), "does not match the browser's session"},
		} {
			got = b.Post(e.issuer+"/login/account", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "shown": {c.shown}, "choice": {"continue"}})
			if got.Location != "" || !strings.Contains(got.Body, "Continue as Alice Archer (alice)") {
				t.Fatalf("a choice naming %q: %d %s %.400s", c.shown, got.Status, got.Location, got.Body)
			}
			evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "authorize.account_mismatch"})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 || !strings.Contains(evs[0].Detail, c.detail) || evs[0].Subject != alice {
				t.Fatalf("audit of a choice naming %q: %+v, want the newest to say %q", c.shown, evs, c.detail)
			}
		}
		if sub := accountSub(t, e, web, codeOf(t, choose(b, got, "continue"), "s11")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
	})

	t.Run("another member's browser", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(web, "s8"), "Alice Archer (alice)")
		other := signedIn("bob", "bob-password")
		own := choicePage(other, selectURL(web, "x"), "Bob Staff (bob)").Hidden()
		f := p.Hidden()
		for _, choice := range []string{"continue", "other"} {
			got := other.Post(e.issuer+"/login/account", url.Values{"csrf": {own.Get("csrf")}, "id": {f.Get("id")}, "shown": {own.Get("shown")}, "choice": {choice}})
			if got.Location != "" || got.Status != http.StatusForbidden {
				t.Fatalf("%s from another browser: %d %s", choice, got.Status, got.Location)
			}
		}
		// And without this browser's CSRF token: refused before anything is read.
		if got := other.Post(e.issuer+"/login/account", f); got.Location != "" || got.Status != http.StatusForbidden {
			t.Fatalf("another browser with the page's own form: %d %s", got.Status, got.Location)
		}
		if sub := accountSub(t, e, web, codeOf(t, choose(b, p, "continue"), "s8")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
	})

	t.Run("consent next, for a third-party app", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		p := choicePage(b, selectURL(third, "t1"), "Alice Archer (alice)")
		c := choose(b, p, "continue")
		if c.URL.Path != "/consent" || !strings.Contains(c.Body, "Alice Archer (alice)") {
			t.Fatalf("consent after the choice: %s %d %.600s", c.URL, c.Status, c.Body)
		}
		f := c.Hidden()
		allow := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"allow"}})
		if sub := accountSub(t, e, third, codeOf(t, allow, "t1")); sub == "" {
			t.Fatal("no subject")
		}
	})

	t.Run("prompt=none with select_account is refused", func(t *testing.T) {
		b := signedIn("alice", "alice-password")
		q := b.Get(web.AuthCodeURL("n", oauth2.SetAuthURLParam("prompt", "none select_account"))).Redirected(t)
		if q.Get("code") != "" || q.Get("error") == "" {
			t.Fatalf("prompt=none select_account: %v", q)
		}
	})

	t.Run("without a session: the login form", func(t *testing.T) {
		b := e.browser()
		p := b.Get(selectURL(web, "s10"))
		if p.Location != "" || strings.Contains(p.Body, "Continue as") || !strings.Contains(p.Body, `name="password"`) {
			t.Fatalf("select_account without a session: %d %s %.400s", p.Status, p.Location, p.Body)
		}
		if sub := accountSub(t, e, web, codeOf(t, b.Login(p, "alice", "alice-password"), "s10")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
	})
}

// TestConsentOnRequest: prompt=consent shows the consent page to a trusted (first-party) app
// too (OIDC Core 3.1.2.1), naming the member, for a live session and for a new sign-in; the
// consent form sent again gets the already-used page; with prompt=none the request is refused.
func TestConsentOnRequest(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	alice := subjectOf(t, e, "alice", "alice-password")
	consentURL := func(state string) string {
		return web.AuthCodeURL(state, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	allow := func(b *bridgetest.Browser, p *bridgetest.Page) *bridgetest.Page {
		t.Helper()
		if p.URL.Path != "/consent" || !strings.Contains(p.Body, "You are signed in as <strong>Alice Archer (alice)</strong>") {
			t.Fatalf("want the consent page naming alice, got %s %d %s %.600s", p.URL, p.Status, p.Location, p.Body)
		}
		f := p.Hidden()
		form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"allow"}}
		if h := f.Get("h"); h != "" {
			form.Set("h", h)
		}
		return b.Post(e.issuer+"/consent", form)
	}

	t.Run("live session", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		p := b.Get(consentURL("c1"))
		a := allow(b, p)
		if sub := accountSub(t, e, web, codeOf(t, a, "c1")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
		if again := allow(b, p); again.Location != "" || again.Status != http.StatusConflict {
			t.Fatalf("consent sent again: %d %s", again.Status, again.Location)
		}
		// Asked for again, shown again; without the prompt, a trusted app goes straight on.
		allow(b, b.Get(consentURL("c2")))
		if q := b.Get(web.AuthCodeURL("c3")).Redirected(t); q.Get("code") == "" {
			t.Fatalf("trusted app without prompt=consent: %v", q)
		}
	})

	t.Run("new sign-in", func(t *testing.T) {
		b := e.browser()
		p := b.Login(b.Get(consentURL("c4")), "alice", "alice-password")
		if p.Hidden().Get("h") == "" {
			t.Fatalf("a new sign-in waits for the consent without a session: %s %.400s", p.URL, p.Body)
		}
		a := allow(b, p)
		if sub := accountSub(t, e, web, codeOf(t, a, "c4")); sub != alice {
			t.Fatalf("code for %s", sub)
		}
		// Refused (the new session's CSRF token, or the used hold): no second code.
		if again := allow(b, p); again.Location != "" || again.Status < 400 {
			t.Fatalf("consent sent again: %d %s", again.Status, again.Location)
		}
	})

	t.Run("deny", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		p := b.Get(consentURL("c5"))
		f := p.Hidden()
		q := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"deny"}}).Redirected(t)
		if q.Get("error") != "access_denied" {
			t.Fatalf("deny: %v", q)
		}
	})

	t.Run("prompt=none", func(t *testing.T) {
		b := signedInBrowser(t, e, "alice", "alice-password")
		q := b.Get(web.AuthCodeURL("c6", oauth2.SetAuthURLParam("prompt", "none consent"))).Redirected(t)
		if q.Get("code") != "" || q.Get("error") == "" {
			t.Fatalf("prompt=none consent: %v", q)
		}
	})
}

// TestDeviceUseAnotherAccount: the device confirmation names the signed-in member and offers
// "Not you? Use another account": a new sign-in for the same device request, which waits for
// the confirmation without a session, names the new member, and gives the device their tokens;
// the old "Allow" form of the first member, sent afterwards, gets the already-used page.
func TestDeviceUseAnotherAccount(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	bob := subjectOf(t, e, "bob", "bob-password")
	b := signedInBrowser(t, e, "alice", "alice-password")
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(da.UserCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	if p.URL.Path != "/consent" || !strings.Contains(p.Body, "You are signed in as <strong>Alice Archer (alice)</strong>") ||
		!strings.Contains(p.Body, "Not you? Use another account") {
		t.Fatalf("device confirmation: %s %d %.800s", p.URL, p.Status, p.Body)
	}
	aliceForm := p.Hidden()
	f := p.Hidden()
	login := b.Post(e.issuer+"/login/account", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "choice": {"other"}})
	c := b.Login(login, "bob", "bob-password")
	if c.URL.Path != "/consent" || !strings.Contains(c.Body, "Bob Staff (bob)") || c.Hidden().Get("h") == "" {
		t.Fatalf("bob's confirmation: %s %d %.800s", c.URL, c.Status, c.Body)
	}
	g := c.Hidden()
	done := b.Post(e.issuer+"/consent", url.Values{"csrf": {g.Get("csrf")}, "id": {g.Get("id")}, "h": {g.Get("h")}, "decision": {"allow"}})
	if done.URL.Path != "/device/done" {
		t.Fatalf("after allow: %s %d %.400s", done.URL, done.Status, done.Body)
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("device token: %d %v", resp.StatusCode, body)
	}
	if claims := verifyATJWT(t, e, body["access_token"].(string)); claims["sub"] != bob {
		t.Fatalf("the device holds %v's tokens, want bob's", claims["sub"])
	}
	// alice's Allow, sent afterwards from the page she saw: already used.
	late := b.Post(e.issuer+"/consent", url.Values{"csrf": {aliceForm.Get("csrf")}, "id": {aliceForm.Get("id")}, "decision": {"allow"}})
	if late.Location != "" || late.URL.Path == "/device/done" || late.Status < 400 {
		t.Fatalf("alice's allow after bob's: %s %d %.400s", late.URL, late.Status, late.Body)
	}
}

// TestDiscoveryPromptValues: discovery lists the prompt values the login flow honours
// (prompt_values_supported), select_account and consent among them.
func TestDiscoveryPromptValues(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Prompts []string `json:"prompt_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Prompts, " ") != "none login consent select_account" {
		t.Fatalf("prompt_values_supported = %q", d.Prompts)
	}
}
