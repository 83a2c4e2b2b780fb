package bridge_test

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestLoginPageHidesHandoffForFreshSignIn (review s9 Z3, left for the login page): a request
// that asks for a fresh or recent sign-in (prompt=login, max_age) cannot be answered by the
// AMS website's hand-off (/handoff/start refuses it: the member types nothing there), so its
// login page does not offer "Continue with your member account"; other requests do.
func TestLoginPageHidesHandoffForFreshSignIn(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	for _, tc := range []struct {
		name    string
		opts    []oauth2.AuthCodeOption
		handoff bool
	}{
		{"plain", nil, true},
		{"prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, false},
		{"max_age=300", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "300")}, false},
		{"plain again", nil, true}, // the page prepared for the client is not the fresh one
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.browser().Get(web.AuthCodeURL("st", tc.opts...))
			if p.Hidden().Get("id") == "" {
				t.Fatalf("no login page: %d %.300s", p.Status, p.Body)
			}
			if got := strings.Contains(p.Body, `action="/handoff/start"`); got != tc.handoff {
				t.Fatalf("hand-off button shown %v, want %v: %.1500s", got, tc.handoff, p.Body)
			}
		})
	}
}
