package bridge_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ageSession moves the auth time of login's only session d into the past (its methods kept).
func ageSession(t *testing.T, e *env, login string, d time.Duration) {
	t.Helper()
	s := onlySession(t, e, login)
	if err := e.store.UpgradeSession(e.ctx(), s.ID, s.AMR, s.AMR, time.Now().Add(-d)); err != nil {
		t.Fatal(err)
	}
}

// TestHandoffSignsTheSessionInAgain (brief s23 M4 item 1): the AMS website's hand-off into a
// browser already signed in as the same member is a sign-in: the session (same id, so its apps
// and sid stay) records it as a new hand-off session does, auth time now and methods ["ams"],
// and the next ID token says so. The hand-off's methods replace the password's: a request
// asking for a recent sign-in (max_age) gets the login page, which the hand-off never answers.
// The AMS token posted again changes nothing. Before, the session kept its sign-in of an hour
// ago: auth_time was the password's.
func TestHandoffSignsTheSessionInAgain(t *testing.T) {
	e := newEnvWith(t, true)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	ageSession(t, e, "alice", time.Hour)
	before := onlySession(t, e, "alice")

	t1 := time.Now().Truncate(time.Second)
	amsLogin(t, e, b, "alice", "alice-password")
	m := amsToken.FindStringSubmatch(b.Get(e.issuer + "/demo-ams/sso?client=ssobridge").Body)
	if m == nil {
		t.Fatal("no hand-off form on the AMS website")
	}
	if p := amsPost(t, e, b, url.Values{"refresh_token": {m[1]}}); p.Status != http.StatusOK || p.URL.Path != "/account" {
		t.Fatalf("hand-off into the member's own session: %d at %s: %.400s", p.Status, p.URL, p.Body)
	}
	after := onlySession(t, e, "alice")
	if after.ID != before.ID || after.AuthTime.Before(t1) || !slices.Equal(after.AMR, []string{"ams"}) {
		t.Fatalf("session after the hand-off: id kept %v, auth time %s (hand-off at %s), amr %v", after.ID == before.ID,
			after.AuthTime, t1, after.AMR)
	}
	c := idTokenAuth(t, e, web, verifier, e.signIn(b, web.AuthCodeURL("s2", oidc.Nonce("n2")), "", ""))
	if c.AuthTime < t1.Unix() || !slices.Equal(c.AMR, []string{"ams"}) {
		t.Fatalf("ID token after the hand-off: auth_time %d (hand-off at %d), amr %v", c.AuthTime, t1.Unix(), c.AMR)
	}
	if p := b.Get(web.AuthCodeURL("m", oidc.Nonce("n3"), oauth2.SetAuthURLParam("max_age", "7200"))); p.Location != "" ||
		p.Hidden().Get("id") == "" {
		t.Fatalf("max_age after the hand-off answered without the password: %d %q", p.Status, p.Location)
	}

	if p := amsPost(t, e, b, url.Values{"refresh_token": {m[1]}}); p.Status < 400 {
		t.Fatalf("the AMS token posted again: %d at %s", p.Status, p.URL)
	}
	if again := onlySession(t, e, "alice"); again.ID != after.ID || !again.AuthTime.Equal(after.AuthTime) || !slices.Equal(again.AMR, after.AMR) {
		t.Fatalf("the replayed hand-off changed the session: %+v, was %+v", again, after)
	}
}

// TestHandoffNeverClaimsAnotherSignInsFactor (brief s23 M4 item 1): a hand-off into the browser
// of a member whose session passed their password and second factor an hour ago never gives
// that session the hand-off's time with those methods. The member, who has a factor, is asked
// for it at the step, as at any hand-off; until it passes the session is as it was (its ID
// tokens say the password and factor of an hour ago); once it passes, the session is the
// hand-off's with the factor (["ams", "otp", "mfa"], no "pwd") at the step's time.
func TestHandoffNeverClaimsAnotherSignInsFactor(t *testing.T) {
	e := newEnvWith(t, true)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, _ := enrolTOTP(t, e, b)
	ageSession(t, e, "alice", time.Hour)
	before := onlySession(t, e, "alice")
	if !slices.Equal(before.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("session after the enrolment: amr %v", before.AMR)
	}

	step := handoffAs(t, e, b, "", "alice", "alice-password")
	if step.URL.Path != "/login/mfa" || step.Hidden().Get("c") == "" {
		t.Fatalf("hand-off of a member with a factor into their session: %d at %s, want the step", step.Status, step.URL)
	}
	if s := onlySession(t, e, "alice"); !s.AuthTime.Equal(before.AuthTime) || !slices.Equal(s.AMR, before.AMR) {
		t.Fatalf("the session changed before the step passed: auth time %s amr %v, was %s %v", s.AuthTime, s.AMR, before.AuthTime, before.AMR)
	}
	c := idTokenAuth(t, e, web, verifier, e.signIn(b, web.AuthCodeURL("s2", oidc.Nonce("n2")), "", ""))
	if c.AuthTime != before.AuthTime.Unix() || !slices.Equal(c.AMR, before.AMR) {
		t.Fatalf("ID token while the step waits: auth_time %d amr %v, want the session's %d %v", c.AuthTime, c.AMR, before.AuthTime.Unix(), before.AMR)
	}

	t1 := time.Now().Truncate(time.Second)
	if p := submitStep(b, e, step, "totp", totpCode(t, secret, 1)); p.Status >= 400 {
		t.Fatalf("the step's code: %d at %s: %.400s", p.Status, p.URL, p.Body)
	}
	after := onlySession(t, e, "alice")
	if after.ID != before.ID || after.AuthTime.Before(t1) || !slices.Equal(after.AMR, []string{"ams", "otp", "mfa"}) {
		t.Fatalf("session after the step: id kept %v, auth time %s (step at %s), amr %v", after.ID == before.ID, after.AuthTime, t1, after.AMR)
	}
	c = idTokenAuth(t, e, web, verifier, e.signIn(b, web.AuthCodeURL("s3", oidc.Nonce("n3")), "", ""))
	if c.AuthTime < t1.Unix() || !slices.Equal(c.AMR, []string{"ams", "otp", "mfa"}) {
		t.Fatalf("ID token after the step: auth_time %d amr %v", c.AuthTime, c.AMR)
	}
}

// TestHandOffAgainRefreshesFirstEnrolment (brief s23 M4 item 1): a member the AMS signs in only
// with a second factor, whose hand-off session is too old to enrol a first factor, comes back
// from the AMS website into the same browser, without signing out, and may enrol: the new
// hand-off signed the session in again. Before, the session kept its old hand-off time and the
// member had to sign out first.
func TestHandOffAgainRefreshesFirstEnrolment(t *testing.T) {
	e := newEnvWith(t, true)
	amsFactor(e, "bob", true)
	b := e.browser()
	handoffAs(t, e, b, "", "bob", "bob-password")
	ageStepUp(t, e, "bob")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="security-handoff-again"`) ||
		strings.Contains(p.Body, `id="totp-begin"`) {
		t.Fatalf("security page of an aged hand-off: %d %.600s", p.Status, p.Body)
	}
	handoffAs(t, e, b, "", "bob", "bob-password")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="totp-begin"`) {
		t.Fatalf("security page after a new hand-off into the same browser: %d %.600s", p.Status, p.Body)
	}
	if n := sessionsOf(t, e, "bob"); n != 1 {
		t.Fatalf("bob has %d sessions, want the one signed in again", n)
	}
}
