package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/legacy"
)

// TestAMSSecondFactorAsked (review s15 X-6): a member whom the AMS signs in only with a second
// factor (iMIS: UserMain.MultiFactorInfo set, legacy.Member.SecondFactor) enrols one at the
// bridge at sign-in, for any app, as for a role of mfa.required_roles, instead of signing in
// with the password alone; a member without it goes straight through.
func TestAMSSecondFactorAsked(t *testing.T) {
	e := newEnv(t)
	e.dir.Update("bob", func(m *legacy.Member) { m.SecondFactor = true })
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	p := b.Login(b.Get(cfg.AuthCodeURL("s", oidc.Nonce("n"))), "bob", "bob-password")
	// Session 16 (brief M item 1): bob, with no factor at the bridge yet, is not offered an
	// enrolment after the password alone either: he is sent to the AMS website's hand-off
	// (TestAMSSecondFactorEnrolmentNeedsHandoff).
	if p.Location != "" || p.URL.Path != "/login/mfa" || p.Status != http.StatusForbidden || !strings.Contains(p.Body, enrolElsewhere) {
		t.Fatalf("a member the AMS asks for a second factor signed in with the password alone: status %d location %q: %.900s", p.Status, p.Location, p.Body)
	}
	if code := e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"); code == "" {
		t.Fatal("alice got no code")
	}
}
