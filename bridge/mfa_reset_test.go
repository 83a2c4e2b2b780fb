package bridge_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/saml"
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
		c.Clients[1].AllowInternalTargets = true            // rp is on 127.0.0.1
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

// TestResetNoticeOnSAMLSignIn: the reset notice on a SAML app's sign-in (the step is the one
// every path shares; the other paths: TestResetNoticeOnEverySignInPath, TestAdminMFAResetNotice,
// TestBrowserPasskeys). After the reset alice signs in at the SAML app with her password: the
// notice comes first, with no session and no SAML response; acknowledging it opens the session
// and goes on to the SAML response, which the SP accepts. She is told once.
func TestResetNoticeOnSAMLSignIn(t *testing.T) {
	e, lms, _, _ := samlEnv(t, func(c *bridge.Config) { c.Admin.Token = adminToken })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	enrolTOTP(t, e, pw)
	resetFactors(t, e, "alice")
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("%d sessions after the reset", n)
	}

	signIn := func(c *http.Client) (*http.Response, string) {
		t.Helper()
		_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
		f := formFields(body)
		return fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
				"login": {"alice"}, "password": {"alice-password"}})
		})
	}
	c := samlClient()
	resp, body := signIn(c)
	if resp.Request.URL.Path != "/login/mfa" || !strings.Contains(body, `id="mfa-reset-notice"`) ||
		!strings.Contains(body, `id="mfa-continue"`) || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("no reset notice at the SAML sign-in: %d %s %.600s", resp.StatusCode, resp.Request.URL, body)
	}
	if !strings.Contains(body, "Learning Portal") {
		t.Fatalf("the notice does not name the SAML app: %.600s", body)
	}
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("a session opened before the notice was acknowledged: %d", n)
	}
	step := formFields(body)
	resp, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")}, "method": {"continue"}})
	})
	if resp.Request.URL.Path != saml.PathContinue {
		t.Fatalf("after the notice: %d %s %.400s", resp.StatusCode, resp.Request.URL, body)
	}
	if app := postToSP(t, c, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not sign alice in after the notice: %.400s", app)
	}
	if n := sessionsOf(t, e, "alice"); n != 1 {
		t.Fatalf("sessions after the notice: %d, want 1", n)
	}
	// Told once: the next SAML sign-in goes straight to the response.
	again := samlClient()
	resp, body = signIn(again)
	if !strings.Contains(body, "SAMLResponse") || strings.Contains(body, `id="mfa-reset-notice"`) {
		t.Fatalf("the next SAML sign-in: %d %s %.400s", resp.StatusCode, resp.Request.URL, body)
	}
	if app := postToSP(t, again, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not sign alice in the next time: %.400s", app)
	}
}
