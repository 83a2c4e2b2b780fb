package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestLoginThrottledPerLogin: after repeated failures the login page refuses further attempts
// for that login with a clear message, even with the right password, and the AMS account is not
// touched (the directory is read-only); other logins are unaffected.
func TestLoginThrottledPerLogin(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Throttle.PerLogin = 3 })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	for range 3 {
		if p := b.Login(b.Get(web.AuthCodeURL("s")), "alice", "wrong"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure: %d", p.Status)
		}
	}
	p := b.Login(b.Get(web.AuthCodeURL("s")), "alice", "alice-password")
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many sign-in attempts") {
		t.Fatalf("want refusal, got %d %q", p.Status, p.Location)
	}
	ev, _ := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "login.throttled", Limit: 1})
	// The typed login is kept as a keyed hash only (it may be a password typed in the wrong field).
	if len(ev) != 1 || !strings.HasPrefix(ev[0].Login, "hmac:") || strings.Contains(ev[0].Login, "alice") {
		t.Fatalf("audit: %+v", ev)
	}
	if q := b.Login(b.Get(web.AuthCodeURL("s")), "bob", "bob-password").Redirected(t); q.Get("code") == "" {
		t.Fatal("another login was throttled")
	}
}

// TestThrottleIgnoresForgedForwardedFor: without trusted proxies X-Forwarded-For cannot be
// used to pick a fresh IP for every attempt.
func TestThrottleIgnoresForgedForwardedFor(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Throttle.PerIP = 3; c.Throttle.PerLogin = 100 })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	attempt := func(i int, password string) *bridgetest.Page {
		p := b.Get(web.AuthCodeURL("s"))
		f := p.Hidden()
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login", strings.NewReader(url.Values{
			"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {fmt.Sprint("user", i)}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return &bridgetest.Page{Status: resp.StatusCode}
	}
	for i := range 3 {
		attempt(i, "wrong")
	}
	if p := attempt(9, "wrong"); p.Status != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For escaped the per-IP limit: %d", p.Status)
	}
}
