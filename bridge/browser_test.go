package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
)

// newChrome is headless Chromium for one test (chrome: a browser context of the shared one).
func newChrome(t *testing.T) context.Context {
	t.Helper()
	return chrome(t, 60*time.Second)
}

// relyingParty is a tiny server-side app: it starts sign-in, takes the code at /callback,
// exchanges it with x/oauth2 and verifies the ID token with go-oidc.
type relyingParty struct {
	srv      *httptest.Server
	cfg      *oauth2.Config
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

func newRelyingParty(t *testing.T) (*relyingParty, func(*bridge.Config)) {
	rp := &relyingParty{}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, rp.cfg.AuthCodeURL("browser-state", oidc.Nonce("browser-nonce")), http.StatusFound)
		case "/callback":
			if r.URL.Query().Get("state") != "browser-state" {
				http.Error(w, "bad state", 400)
				return
			}
			tok, err := rp.cfg.Exchange(rp.ctx, r.URL.Query().Get("code"))
			if err != nil {
				http.Error(w, "exchange: "+err.Error(), 500)
				return
			}
			idt, err := rp.verifier.Verify(rp.ctx, tok.Extra("id_token").(string))
			if err != nil || idt.Nonce != "browser-nonce" {
				http.Error(w, fmt.Sprintf("verify: %v", err), 500)
				return
			}
			var c struct {
				Name string `json:"name"`
			}
			_ = idt.Claims(&c)
			fmt.Fprintf(w, "<!doctype html><title>app</title><p id=result>signed in: %s (%s)</p>", c.Name, idt.Subject)
		}
	}))
	t.Cleanup(rp.srv.Close)
	return rp, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "browserapp", Name: "Browser App", Secret: webSecret, Trusted: true,
			RedirectURIs: []string{rp.srv.URL + "/callback"}})
	}
}

func (rp *relyingParty) connect(e *env) {
	rp.ctx = e.ctx()
	rp.cfg, rp.verifier = e.oauth("browserapp", webSecret, rp.srv.URL+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "profile")
}

// css is shorthand for a CSS selector.
type css = chromedp.CSS

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

func TestBrowserLogin(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, addClient)
	rp.connect(e)
	ctx := newChrome(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
	)
	if err != nil {
		t.Fatalf("open login page: %v", err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#result")),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	result := text(t, ctx, "#result")
	if !strings.Contains(title, "Sign in") || !strings.HasPrefix(result, "signed in: Alice Archer") {
		t.Fatalf("title %q, result %q", title, result)
	}
	// Sign out through the confirmation page, then a wrong password shows the message.
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/logout"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#signed-out")),
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "wrong"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#login-error")),
	)
	if msg := text(t, ctx, "#login-error"); err != nil || !strings.Contains(msg, "not right") {
		t.Fatalf("wrong password page: %v %q", err, msg)
	}
}

func TestBrowserPlayground(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e := newEnv(t)
	ctx := newChrome(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.issuer+"/playground"),
		chromedp.Click(css("#pg-login")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitEnabled(css("#pg-refresh")),
	)
	if err != nil {
		t.Fatalf("playground sign-in: %v (status %q)", err, text(t, ctx, "#pg-status"))
	}
	idToken := text(t, ctx, "#pg-idtoken")
	err = chromedp.Do(ctx, chromedp.Click(css("#pg-refresh")))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("pg-status").textContent.startsWith("Refreshed")`, chromedp.WithPollingTimeout(10*time.Second)))
	}
	status := text(t, ctx, "#pg-status")
	if err != nil || !strings.HasPrefix(status, "Refreshed") {
		t.Fatalf("playground refresh: %v (status %q)", err, status)
	}
	userinfo := text(t, ctx, "#pg-userinfo")
	for _, want := range []string{`"iss": "` + e.issuer + `"`, `"aud"`, `"sid"`, `"at_hash"`, `"nonce"`} {
		if !strings.Contains(idToken, want) {
			t.Fatalf("id token view lacks %s:\n%s", want, idToken)
		}
	}
	if !strings.Contains(userinfo, `"email": "alice@example.org"`) || !strings.Contains(userinfo, `"roles"`) {
		t.Fatalf("userinfo view:\n%s", userinfo)
	}
}

// TestBrowserHandoff: the member signs in on the (simulated) AMS website, whose SSO iPart posts
// to the bridge, and arrives at the app with a valid ID token, in a real browser.
func TestBrowserHandoff(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnvWith(t, true, addClient)
	rp.connect(e)
	ctx := newChrome(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.Click(css(`form[action="/handoff/start"] button`)),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit]")),
		chromedp.WaitVisible(css("#result")),
	)
	if err != nil {
		t.Fatalf("hand-off in the browser: %v", err)
	}
	if r := text(t, ctx, "#result"); !strings.HasPrefix(r, "signed in: Alice Archer") {
		t.Fatalf("result %q", r)
	}
}
