package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSignOutAllDevicesWithoutAMSOrStepUp (brief s22 H2 item 3, review s21 X3): "Sign out of
// all devices" only ends the member's own sessions, so it works with the AMS down (the
// account page, which cannot be shown then, offers it) and from a session that lacks the
// second factor the member enrolled since (in another browser), which the account page itself
// would send through a step-up first. Before, both were sent back to the account page: the
// outage blocked the protective action, and so did a lost phone.
func TestSignOutAllDevicesWithoutAMSOrStepUp(t *testing.T) {
	e := newEnv(t)
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	old, other := e.browser(), e.browser()
	e.signIn(old, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	e.signIn(other, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	enrolTOTP(t, e, other) // old's session now lacks the factor alice uses
	if n := sessionsOf(t, e, "alice"); n != 2 {
		t.Fatalf("alice has %d sessions, want 2", n)
	}
	if p := old.Get(e.issuer + "/account"); p.URL.Path != "/login/mfa" {
		t.Fatalf("the account page of a session without the factor: %d at %s, want the step-up", p.Status, p.URL)
	}
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)

	e.dir.Down = true
	defer func() { e.dir.Down = false }()
	acct := other.Get(e.issuer + "/account")
	if acct.Status != http.StatusServiceUnavailable || !strings.Contains(acct.Body, `href="/account/signout-all"`) {
		t.Fatalf("the account page with the AMS down: %d, want 503 offering sign-out of all devices: %.600s", acct.Status, acct.Body)
	}
	confirm := old.Get(e.issuer + "/account/signout-all")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `id="signout-all-confirm"`) {
		t.Fatalf("confirmation page with the AMS down, without the factor: %d at %s: %.400s", confirm.Status, confirm.URL, confirm.Body)
	}
	done := old.Post(e.issuer+"/account/signout-all", url.Values{"csrf": {confirm.Hidden().Get("csrf")}})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="signed-out-all"`) {
		t.Fatalf("sign out of all devices with the AMS down: %d at %s: %.600s", done.Status, done.URL, done.Body)
	}
	if s, err := e.store.Sessions(e.ctx(), sub); err != nil || len(s) != 0 {
		t.Fatalf("sessions left: %d %v", len(s), err)
	}
}

// TestAccountSignOutButtonsTellApart (brief s22 H2 item 4): the account page's two sign-outs
// say which is which: "Sign out of this browser" (/logout; it was "Sign out everywhere", which
// read as the other one) and "Sign out of all devices".
func TestAccountSignOutButtonsTellApart(t *testing.T) {
	e := newEnv(t)
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	acct := b.Get(e.issuer + "/account")
	if strings.Contains(acct.Body, "everywhere") ||
		!strings.Contains(acct.Body, `id="signout-browser">Sign out of this browser</a>`) ||
		!strings.Contains(acct.Body, `id="signout-all">Sign out of all devices</a>`) {
		t.Fatalf("the account page's sign-outs: %.3000s", acct.Body)
	}
}
