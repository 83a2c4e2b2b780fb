package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSignOutFramesAnAppSignedIntoMeanwhile (review s20 X20-1, Front-Channel Logout 1.0
// section 3): the signed-out page frames the front-channel logout of an app that the session
// signed into (another tab) after the sign-out read the session and before it ended it: the
// frames come from the clients of the session as the store ended it. Before: from the session
// read at the start of the request, so the page framed "web" only.
func TestSignOutFramesAnAppSignedIntoMeanwhile(t *testing.T) {
	var st *interleavedEnd
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &interleavedEnd{Store: s}
		return st
	}}, withGrantClients, func(c *bridge.Config) {
		// "other": a front-channel logout URI is on one of its redirect URIs' origins.
		c.Clients[1].FrontchannelLogoutURI = "https://other.example.org/fcl"
		c.Clients[1].RedirectURIs = append(c.Clients[1].RedirectURIs, "https://other.example.org/cb")
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	if code := e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password"); code == "" {
		t.Fatal("no code for web")
	}
	var sid string
	st.during = func(string) {
		q := b.Get(other.AuthCodeURL("b")).Redirected(t)
		if q.Get("code") == "" {
			t.Errorf("other's sign-in in the other tab: %v", q)
			return
		}
		sid = sidOf(t, e, other, q.Get("code"))
	}
	page := b.Get(e.issuer + "/logout")
	out := b.Post(e.issuer+"/logout", url.Values{"csrf": {page.Hidden().Get("csrf")}})
	if sid == "" {
		t.Fatal("other was not signed in during the sign-out")
	}
	want := "https://other.example.org/fcl?iss=" + url.QueryEscape(e.issuer) + "&amp;sid=" + sid
	if out.Status != http.StatusOK || !strings.Contains(out.Body, `src="`+want+`"`) {
		t.Fatalf("signed-out page: status %d, want the frame %s in\n%.2000s", out.Status, want, out.Body)
	}
}
