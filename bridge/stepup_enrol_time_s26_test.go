package bridge_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestStepUpEnrolmentKeepsAuthTime (review s24 X-3, brief s26 D item 1): a live session that
// enrols a member's first factor, at the step-up page an app that requires one sends it to or
// on the security page, gains the factor's methods but keeps its sign-in time (OIDC Core 2,
// auth_time: when the member authenticated). Enrolling proves who holds the new authenticator,
// not who the member is, the rule f94d384 set for a sign-in's step. Before, both set the
// session's auth time to now: a password sign-in of minutes ago became "just signed in" for an
// app's max_age and for the security page.
func TestStepUpEnrolmentKeepsAuthTime(t *testing.T) {
	for _, where := range []string{"step-up page", "security page"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t, func(c *bridge.Config) {
				for i := range c.Clients {
					if c.Clients[i].ID == "other" {
						c.Clients[i].MFA = "required"
					}
				}
			})
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			other, otherVerifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
			b := e.browser()
			e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
			// Signed in five minutes ago: recent enough to enrol (mfa.step_up_max_age 10m)
			// without the password again.
			ageSession(t, e, "alice", 5*time.Minute)
			before := onlySession(t, e, "alice")

			switch where {
			case "step-up page":
				p := b.Get(other.AuthCodeURL("s", oidc.Nonce("n")))
				m := totpSecretRe.FindStringSubmatch(p.Body)
				if p.URL.Path != "/login/mfa" || m == nil {
					t.Fatalf("the required app's step-up: %d at %s, want the enrolment: %.600s", p.Status, p.URL, p.Body)
				}
				done := submitStep(b, e, p, "enrol", totpCode(t, m[1], 0))
				next := continueRe.FindStringSubmatch(done.Body)
				if next == nil {
					t.Fatalf("no way on after the enrolment: %d %.500s", done.Status, done.Body)
				}
				code := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")).Redirected(t).Get("code")
				if code == "" {
					t.Fatal("no code for the app after the enrolment")
				}
				c := idTokenAuth(t, e, other, otherVerifier, code)
				if c.AuthTime != before.AuthTime.Unix() || !slices.Contains(c.AMR, "mfa") {
					t.Fatalf("ID token after the step-up's enrolment: auth_time %d amr %v, want the sign-in's %d with mfa",
						c.AuthTime, c.AMR, before.AuthTime.Unix())
				}
			case "security page":
				enrolTOTP(t, e, b)
			}
			after := onlySession(t, e, "alice")
			if !slices.Contains(after.AMR, "mfa") {
				t.Fatalf("session after the enrolment: amr %v, want the new factor's", after.AMR)
			}
			if d := after.AuthTime.Sub(before.AuthTime); d < -time.Second || d > time.Second {
				t.Fatalf("session's auth time after the enrolment %s, want the sign-in's %s", after.AuthTime, before.AuthTime)
			}
			// The app's max_age of one minute is not answered by the enrolment: a new sign-in.
			p := b.Get(other.AuthCodeURL("m", oidc.Nonce("n2"), oauth2.SetAuthURLParam("max_age", "60")))
			if p.Location != "" || p.Hidden().Get("id") == "" {
				t.Fatalf("max_age=60 after the enrolment answered without a sign-in: %d %q", p.Status, p.Location)
			}
		})
	}
}
