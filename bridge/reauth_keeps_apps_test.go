package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestReauthenticationKeepsOtherApps (review s10 V8; OIDC Core 3.1.2.1 prompt=login / max_age,
// Back-Channel Logout 1.0 2.7): a member who signs in again in the same browser because an app
// asked for a fresh sign-in (prompt=login, max_age) is still signed in to the session's other
// apps: none of them is sent a logout token. Before, the re-authentication started a new
// session and ended the old one (authflow endPrevious), whose apps all got back-channel
// logouts (and its SAML SPs SOAP LogoutRequests): asking for a fresh sign-in in one app signed
// the member out of every other.
func TestReauthenticationKeepsOtherApps(t *testing.T) {
	got := make(chan url.Values, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.URL.Path == "/bcl" && r.PostForm.Get("logout_token") != "" {
			got <- r.PostForm
		}
	}))
	defer rp.Close()
	e := grantEnv(t, func(c *bridge.Config) {
		c.Clients[1].BackchannelLogoutURI = rp.URL + "/bcl" // "other"
		c.Clients[1].AllowInternalTargets = true            // rp is on 127.0.0.1
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password")
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		if code := e.signIn(b, web.AuthCodeURL("b", opt), "alice", "alice-password"); code == "" {
			t.Fatal("no code after the fresh sign-in")
		}
	}
	if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != 0 {
		t.Fatalf("the fresh sign-in at web queued %d logout tokens for the session's other apps (%v); want none", n, err)
	}
	select {
	case f := <-got:
		t.Fatalf("other got a logout token: %.80s", f.Get("logout_token"))
	default:
	}
	if n := sessionsOf(t, e, "alice"); n != 1 {
		t.Fatalf("alice has %d sessions", n)
	}
}
