package bridge_test

import (
	"testing"

	"golang.org/x/oauth2"
)

// TestReauthenticationKeepsOtherApps (review s10 V8; OIDC Core 3.1.2.1 prompt=login / max_age,
// Back-Channel Logout 1.0 2.7): a member who signs in again in the same browser because an app
// asked for a fresh sign-in (prompt=login, max_age) is still signed in to the session's other
// apps: none of them is sent a logout token. Before, the re-authentication started a new
// session and ended the old one (authflow endPrevious), whose apps all got back-channel
// logouts (and its SAML SPs SOAP LogoutRequests): asking for a fresh sign-in in one app signed
// the member out of every other.
func TestReauthenticationKeepsOtherApps(t *testing.T) {
	rec := newBCLRecorder(t)
	e := grantEnv(t, rec.withBCL)
	// The test means something only while "other" has a back-channel logout URI to be sent a
	// logout token at (withBCL sets grantEnv's second client's).
	if cl, err := e.bridge.Registry().ClientConfig(e.ctx(), "other"); err != nil || cl.BackchannelLogoutURI == "" {
		t.Fatalf("other has no back-channel logout URI: %+v %v", cl, err)
	}
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
	if l := rec.delivered(t, e); len(l) != 0 {
		t.Fatalf("other got a logout token: %v", l[0])
	}
	if n := sessionsOf(t, e, "alice"); n != 1 {
		t.Fatalf("alice has %d sessions", n)
	}
}
