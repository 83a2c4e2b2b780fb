package bridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
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
	if len(ev) != 1 || ev[0].Login != "alice" {
		t.Fatalf("audit: %+v", ev)
	}
	if q := b.Login(b.Get(web.AuthCodeURL("s")), "bob", "bob-password").Redirected(t); q.Get("code") == "" {
		t.Fatal("another login was throttled")
	}
}
