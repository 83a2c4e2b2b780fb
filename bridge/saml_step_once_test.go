package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLSecondFactorSignInOnce (brief H2 item 2, s18): a SAML sign-in whose member needs a
// second factor writes one session and sends one assertion, however its forms are sent: the
// password form sent again from another tab takes the sign-in over with a step of its own, and
// the first tab's step can then no longer pass (review final18 R3-2; before, it got "already
// sent"); the continue link opened before the step passed shows the login form and answers
// nothing; the step's form sent again after it passed,
// and the continue link after the answer, get "already used". Before, each password submission
// opened a step of its own, and passing both wrote two sessions (the "two tabs" subtest fails
// so); the request's compare-and-set kept the second assertion back.
func TestSAMLSecondFactorSignInOnce(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, codes := enrolTOTP(t, e, pw)
	ctx := context.Background()
	responses := func() int {
		t.Helper()
		ev, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: "saml.response", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}

	c := samlClient()
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
	f := formFields(body)
	if f.Get("id") == "" || f.Get("csrf") == "" {
		t.Fatalf("no SAML login form: %.400s", body)
	}
	password := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
	sessions, answered := sessionsOf(t, e, "alice"), responses()

	resp, body := fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathLogin, password) })
	if resp.Request.URL.Path != "/login/mfa" {
		t.Fatalf("the SAML sign-in did not ask for the second factor: %d %s %.300s", resp.StatusCode, resp.Request.URL, body)
	}
	step := formFields(body)

	t.Run("two tabs", func(t *testing.T) {
		// The same password form from another tab of the browser: it takes the sign-in over
		// (review final18 R3-2) with a step of its own, and the first tab's step is dead.
		resp, body := fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathLogin, password) })
		other := formFields(body)
		if resp.Request.URL.Path != "/login/mfa" || other.Get("c") == "" || other.Get("c") == step.Get("c") {
			t.Fatalf("the password form sent again: %d %s %.300s", resp.StatusCode, resp.Request.URL, body)
		}
		resp, body = fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")},
				"method": {"recovery"}, "code": {codes[2]}})
		})
		if resp.Request.URL.Path == saml.PathContinue || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("the first tab's step after the second tab took over: %d %s", resp.StatusCode, resp.Request.URL)
		}
		if n := sessionsOf(t, e, "alice"); n != sessions {
			t.Fatalf("sessions before the live step passed: %d, %d before", n, sessions)
		}
		step = other
	})

	t.Run("continue before the step", func(t *testing.T) {
		resp, body := fetch(t, func() (*http.Response, error) {
			return c.Get(e.issuer + saml.PathContinue + "?id=" + url.QueryEscape(f.Get("id")))
		})
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "SAMLResponse") || !strings.Contains(body, `name="password"`) {
			t.Fatalf("continue before the step passed: %d %s %.300s", resp.StatusCode, resp.Request.URL, body)
		}
		if n := sessionsOf(t, e, "alice"); n != sessions {
			t.Fatalf("sessions before the step passed: %d, %d before", n, sessions)
		}
	})

	t.Run("the step, then its form again", func(t *testing.T) {
		resp, body := fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")},
				"method": {"totp"}, "code": {totpCode(t, secret, 1)}})
		})
		if resp.Request.URL.Path != saml.PathContinue || !strings.Contains(body, "SAMLResponse") {
			t.Fatalf("after the second factor: %d %s %.300s", resp.StatusCode, resp.Request.URL, body)
		}
		fresh := formFields(fetch2(t, c, e.issuer+"/account/security")).Get("csrf")
		again, _ := fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {fresh}, "c": {step.Get("c")}, "method": {"recovery"}, "code": {codes[0]}})
		})
		if again.StatusCode != http.StatusConflict {
			t.Fatalf("the step's form sent again: %d %s", again.StatusCode, again.Request.URL)
		}
		cont, body := fetch(t, func() (*http.Response, error) {
			return c.Get(e.issuer + saml.PathContinue + "?id=" + url.QueryEscape(f.Get("id")))
		})
		if cont.StatusCode != http.StatusConflict || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("the continue link after the answer: %d %.300s", cont.StatusCode, body)
		}
		password.Set("csrf", fresh)
		if resp, body := fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathLogin, password) }); resp.StatusCode != http.StatusConflict || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("the password form after the answer: %d %s", resp.StatusCode, resp.Request.URL)
		}
	})

	if n := sessionsOf(t, e, "alice"); n != sessions+1 {
		t.Fatalf("sessions after the SAML sign-in: %d, want %d", n, sessions+1)
	}
	if n := responses(); n != answered+1 {
		t.Fatalf("SAML responses sent: %d, want 1", n-answered)
	}
}
