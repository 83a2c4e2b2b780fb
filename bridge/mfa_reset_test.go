package bridge_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestAdminResetEndsSessions: an administrator's factor reset (a lost device, or one an
// attacker may hold) ends every session of the member and revokes their grants with it: the
// browser that was signed in (and had used the factor) is asked to sign in again instead of
// reaching the security page, where it could enrol a new factor with no step-up; a refresh
// token issued before is refused; the app with a backchannel_logout_uri gets a logout token.
func TestAdminResetEndsSessions(t *testing.T) {
	got := make(chan url.Values, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.URL.Path != "/bcl" || r.PostForm.Get("logout_token") == "" {
			http.NotFound(w, r)
			return
		}
		got <- r.PostForm
	}))
	defer rp.Close()
	e := grantEnv(t, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.Clients[1].BackchannelLogoutURI = rp.URL + "/bcl" // "other"
	})
	cfg, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := cfg.Exchange(e.ctx(), e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token to check")
	}
	enrolTOTP(t, e, b)
	if n := sessionsOf(t, e, "alice"); n != 1 {
		t.Fatalf("alice has %d sessions before the reset", n)
	}

	resetFactors(t, e, "alice")

	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("%d sessions survived the reset", n)
	}
	// The browser's session is gone: the security page asks it to sign in again.
	if p := b.Get(e.issuer + "/account/security"); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "You are not signed in") {
		t.Fatalf("the security page after the reset (the session open before it): %d %s %.400s", p.Status, p.URL, p.Body)
	}
	// The refresh token issued before is refused.
	_, err = cfg.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after the reset: %v", err)
	}
	// The app gets its back-channel logout.
	if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != 1 {
		t.Fatalf("delivered %d logout tokens: %v", n, err)
	}
	if form := <-got; len(strings.Split(form.Get("logout_token"), ".")) != 3 {
		t.Fatalf("logout token: %v", form)
	}
	rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.mfa_reset"})
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0].Detail, "1 sessions ended, grants revoked") {
		t.Fatalf("audit admin.mfa_reset: %v %v", rows, err)
	}
}
