package bridge_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestHandoffSessionMaxAge (brief s26 D item 2; OIDC Core 3.1.2.1): a session the AMS website's
// hand-off opened answers an app's max_age when, and only when, a second factor of the member's
// was checked by the bridge since (here at the hand-off's step): that factor is an active
// authentication by this provider and set the session's auth time, so max_age is answered while
// now - auth_time <= max_age, and asks for a new sign-in once it has aged past it. The hand-off
// alone is none (the AMS says nothing of when the member signed in there: review s9 Z3), and
// prompt=login is never answered by a hand-off's session. Before, a hand-off's session never
// answered max_age, also after the factor typed at its step.
func TestHandoffSessionMaxAge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		factor bool // alice has an authenticator app, typed at the hand-off's step
	}{
		{"factor typed at the step", true},
		{"hand-off alone", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, true)
			web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			b := e.browser()
			var secret string
			if tc.factor {
				e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
				secret, _ = enrolTOTP(t, e, b)
				ageSession(t, e, "alice", time.Hour) // the password's sign-in is an hour old
			}
			p := handoffAs(t, e, b, "", "alice", "alice-password")
			stepAt := time.Now().Truncate(time.Second)
			if tc.factor {
				if p.URL.Path != "/login/mfa" {
					t.Fatalf("hand-off of a member with a factor: %d at %s, want the step", p.Status, p.URL)
				}
				if q := submitStep(b, e, p, "totp", totpCode(t, secret, 1)); q.Status >= 400 {
					t.Fatalf("the step's code: %d at %s: %.400s", q.Status, q.URL, q.Body)
				}
			}
			sess := onlySession(t, e, "alice")
			if !slices.Contains(sess.AMR, "ams") || slices.Contains(sess.AMR, "mfa") != tc.factor {
				t.Fatalf("session after the hand-off: amr %v", sess.AMR)
			}

			// max_age=600 within ten minutes of the factor: answered from the session, with the
			// step's auth time; the hand-off alone: the login page.
			p = b.Get(web.AuthCodeURL("m", oidc.Nonce("n2"), oauth2.SetAuthURLParam("max_age", "600")))
			answered := strings.Contains(p.Location, "code=")
			if answered != tc.factor {
				t.Fatalf("max_age=600 just after the hand-off: answered %t, want %t (%d %q)", answered, tc.factor, p.Status, p.Location)
			}
			if !answered && (p.Status != http.StatusOK || p.Hidden().Get("id") == "") {
				t.Fatalf("max_age=600 not answered, but no login page: %d %.300s", p.Status, p.Body)
			}
			if answered {
				c := idTokenAuth(t, e, web, verifier, p.Redirected(t).Get("code"))
				if c.AuthTime < stepAt.Unix() || !slices.Contains(c.AMR, "ams") || !slices.Contains(c.AMR, "mfa") {
					t.Fatalf("ID token for max_age=600: auth_time %d (step at %d), amr %v", c.AuthTime, stepAt.Unix(), c.AMR)
				}
			}
			// prompt=login: never answered by the hand-off's session.
			if p := b.Get(web.AuthCodeURL("l", oidc.Nonce("n3"), oauth2.SetAuthURLParam("prompt", "login"))); p.Location != "" ||
				p.Hidden().Get("id") == "" {
				t.Fatalf("prompt=login answered from the hand-off's session: %d %q", p.Status, p.Location)
			}
			// Twenty minutes later, max_age=600 asks for a new sign-in; max_age=3600 is answered
			// after the factor.
			ageSession(t, e, "alice", 20*time.Minute)
			if p := b.Get(web.AuthCodeURL("m", oidc.Nonce("n4"), oauth2.SetAuthURLParam("max_age", "600"))); p.Location != "" ||
				p.Hidden().Get("id") == "" {
				t.Fatalf("max_age=600 answered by a session authenticated 20 minutes ago: %d %q", p.Status, p.Location)
			}
			p = b.Get(web.AuthCodeURL("m", oidc.Nonce("n5"), oauth2.SetAuthURLParam("max_age", "3600")))
			if answered := strings.Contains(p.Location, "code="); answered != tc.factor {
				t.Fatalf("max_age=3600, 20 minutes after: answered %t, want %t (%d %q)", answered, tc.factor, p.Status, p.Location)
			}
		})
	}
}
