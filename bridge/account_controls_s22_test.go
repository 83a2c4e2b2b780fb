package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
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

// TestSignOutOfAppLeavesAppsList (brief s22 H2 item 2): after "Sign out of <app> on all your
// devices" the app is no longer under "Apps you are signed into", in this browser nor in the
// member's other one, while the other app stays; signing into it again (single sign-on, no
// password) lists it again in that browser only. Before, every session kept the app listed.
func TestSignOutOfAppLeavesAppsList(t *testing.T) {
	e := grantEnv(t)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	here, there := e.browser(), e.browser()
	for _, b := range []*bridgetest.Browser{here, there} {
		e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password")
		e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	}
	const events, portal = ">Sign out of Events App on all your devices</button>", ">Sign out of Member Portal on all your devices</button>"
	listed := func(b *bridgetest.Browser) (bool, bool) {
		t.Helper()
		p := b.Get(e.issuer + "/account")
		if p.Status != http.StatusOK {
			t.Fatalf("account page: %d %.300s", p.Status, p.Body)
		}
		return strings.Contains(p.Body, events), strings.Contains(p.Body, portal)
	}
	if ev, po := listed(here); !ev || !po {
		t.Fatalf("before: Events App listed %t, Member Portal %t", ev, po)
	}
	acc := here.Get(e.issuer + "/account")
	done := here.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"signout"}})
	if done.URL.Query().Get("done") != "signedout" {
		t.Fatalf("sign out of the app: %d at %s", done.Status, done.URL)
	}
	for name, b := range map[string]*bridgetest.Browser{"this browser": here, "the other browser": there} {
		if ev, po := listed(b); ev || !po {
			t.Fatalf("%s after signing out of Events App: Events App listed %t, Member Portal %t", name, ev, po)
		}
	}
	// Signed into it again, from this browser's session: listed again, here only.
	if code := e.signIn(here, other.AuthCodeURL("again"), "alice", "alice-password"); code == "" {
		t.Fatal("no code signing into Events App again")
	}
	if ev, _ := listed(here); !ev {
		t.Fatal("Events App is not listed again after signing into it again")
	}
	if ev, _ := listed(there); ev {
		t.Fatal("Events App is listed in the other browser, which did not sign into it again")
	}
}
