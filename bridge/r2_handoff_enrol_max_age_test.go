package bridge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestR2HandoffEnrolmentIsNoAuthentication (review s26 R2-1; OIDC Core 3.1.2.1 max_age, OIDC
// Core 2 auth_time): a session the AMS website's hand-off opened, in which the member then
// enrols a first factor (the security page), has typed nothing at the bridge: the enrolment
// keeps the hand-off's auth time (it "proves who holds the new authenticator, not who the
// member is", brief s26 D item 1), and the hand-off is no active authentication (D item 2).
// So the session must not answer an app's max_age: the login page asks. Branch D's
// handOffAnswers takes any second factor in the session's amr (mfa.HasMFA) as "checked since",
// and answers max_age=600 with the hand-off's time as auth_time: a code issued for max_age
// without any authentication at the bridge. Passes on main (a hand-off session never answers
// max_age); fails on D.
func TestR2HandoffEnrolmentIsNoAuthentication(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	handoffAs(t, e, b, "", "alice", "alice-password")
	sess := onlySession(t, e, "alice")
	if !slices.Contains(sess.AMR, "ams") || slices.Contains(sess.AMR, "mfa") {
		t.Fatalf("session after the hand-off: amr %v", sess.AMR)
	}
	enrolTOTP(t, e, b) // enrols the member's first factor; nothing of theirs is checked
	after := onlySession(t, e, "alice")
	if !slices.Contains(after.AMR, "mfa") {
		t.Fatalf("session after the enrolment: amr %v, want the new factor's", after.AMR)
	}
	p := b.Get(web.AuthCodeURL("m", oidc.Nonce("n2"), oauth2.SetAuthURLParam("max_age", "600")))
	if strings.Contains(p.Location, "code=") {
		t.Fatalf("max_age=600 answered by a hand-off session that only enrolled a factor (auth_time %s, amr %v): %d %q",
			after.AuthTime, after.AMR, p.Status, p.Location)
	}
	if p.Hidden().Get("id") == "" {
		t.Fatalf("max_age=600 not answered, but no login page: %d %.300s", p.Status, p.Body)
	}
}
