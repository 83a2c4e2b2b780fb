package bridge_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// expireSteps ends every pending second-factor step in e's store (as ten minutes would), and
// nothing else: the SAML sign-in's claim lives as long as its sign-in.
func expireSteps(t *testing.T, e *env) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE mfa_challenges SET expires_at = 1 WHERE kind <> ?`, store.KindSAMLLoginClaim); err != nil {
		t.Fatal(err)
	}
}

// TestSAMLAbandonedStepTakenOver (review final18 R3-2): the claim of a SAML sign-in is keyed to
// the second-factor step its password submission opened, and a new submission from the same
// browser takes it over while that step has not passed, so that a member whose step expired (or
// who closed its tab, or typed another account's password) signs in again in the same
// sign-in; and a sign-in still writes at most one session. Each transition from each entry
// point:
//   - password form -> step -> the step expires -> continue link: the form; the form again: a
//     new step (before: 409 "already sent" for good, and a form that could only fail); the
//     expired step's own form: refused;
//   - another browser: refused (the sign-in is bound to this one) and nothing moves;
//   - two tabs sending the form at once: every step they got but one is dead; passing them all
//     writes one session and one assertion;
//   - the step passed, the sign-in not answered (the member's membership lapsed: access
//     denied): the form again is refused ("already sent", no step opened) and the continue link
//     shows no form.
func TestSAMLAbandonedStepTakenOver(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	_, codes := enrolTOTP(t, e, pw)
	ctx := context.Background()
	audit := func(event string) int {
		t.Helper()
		ev, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: event, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	c := samlClient()
	// start opens a sign-in at lms in c and returns its password form's fields.
	start := func(t *testing.T) url.Values {
		t.Helper()
		_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
		f := formFields(body)
		if f.Get("id") == "" || f.Get("csrf") == "" {
			t.Fatalf("no SAML login form: %.400s", body)
		}
		return url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
	}
	// password sends the form and returns the step's fields ("c" empty when there is no step).
	password := func(t *testing.T, form url.Values) (int, url.Values, string) {
		t.Helper()
		resp, body := fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathLogin, form) })
		if resp.Request.URL.Path != "/login/mfa" {
			return resp.StatusCode, url.Values{}, body
		}
		return resp.StatusCode, formFields(body), body
	}
	nextCode := 0
	// pass answers a step with an unused recovery code.
	pass := func(t *testing.T, step url.Values) (*http.Response, string) {
		t.Helper()
		code := codes[nextCode]
		nextCode++
		return fetch(t, func() (*http.Response, error) {
			return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")},
				"method": {"recovery"}, "code": {code}})
		})
	}
	continueLink := func(t *testing.T, id string) (*http.Response, string) {
		t.Helper()
		return fetch(t, func() (*http.Response, error) {
			return c.Get(e.issuer + saml.PathContinue + "?id=" + url.QueryEscape(id))
		})
	}

	form := start(t)
	sessions, answered := sessionsOf(t, e, "alice"), audit("saml.response")
	status, first, body := password(t, form)
	if first.Get("c") == "" {
		t.Fatalf("the SAML sign-in did not ask for the second factor: %d %.300s", status, body)
	}

	var live url.Values // the step that may pass now
	t.Run("the step expired, then the form again", func(t *testing.T) {
		expireSteps(t, e)
		resp, body := continueLink(t, form.Get("id"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("the continue link after the step expired: %d %.300s", resp.StatusCode, body)
		}
		status, again, body := password(t, form)
		if again.Get("c") == "" || again.Get("c") == first.Get("c") {
			t.Fatalf("the password form after the step expired: %d %.300s (want a new step; before: 409 already sent)", status, body)
		}
		if resp, body := pass(t, first); resp.Request.URL.Path == saml.PathContinue || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("the expired step's form: %d %s", resp.StatusCode, resp.Request.URL)
		}
		if n := sessionsOf(t, e, "alice"); n != sessions {
			t.Fatalf("sessions before any step passed: %d, %d before", n, sessions)
		}
		live = again
	})

	t.Run("another browser", func(t *testing.T) {
		other := samlClient()
		resp, body := fetch(t, func() (*http.Response, error) {
			return other.Get(e.issuer + saml.PathContinue + "?id=" + url.QueryEscape(form.Get("id")))
		})
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, `name="password"`) {
			t.Fatalf("the continue link in another browser: %d %.300s", resp.StatusCode, body)
		}
		csrf := formFields(fetch2(t, other, e.issuer+"/login")).Get("csrf")
		theirs := url.Values{"csrf": {csrf}, "id": {form.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
		resp, body = fetch(t, func() (*http.Response, error) { return other.PostForm(e.issuer+saml.PathLogin, theirs) })
		if resp.StatusCode == http.StatusOK || resp.Request.URL.Path == "/login/mfa" {
			t.Fatalf("the password form from another browser: %d %s %.300s", resp.StatusCode, resp.Request.URL, body)
		}
	})

	t.Run("two tabs take over at once", func(t *testing.T) {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			steps []url.Values
		)
		for range 4 {
			wg.Go(func() {
				resp, err := c.PostForm(e.issuer+saml.PathLogin, form)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.Request.URL.Path == "/login/mfa" {
					mu.Lock()
					steps = append(steps, formFields(string(b)))
					mu.Unlock()
				} else if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "already sent") {
					t.Errorf("a racing submission: %d %s", resp.StatusCode, resp.Request.URL)
				}
			})
		}
		wg.Wait()
		if len(steps) == 0 {
			t.Fatal("no racing submission got a step")
		}
		// Every step handed out, and the one before, tried: exactly one passes.
		passed := 0
		for _, s := range append(steps, live) {
			if resp, body := pass(t, s); resp.Request.URL.Path == saml.PathContinue && strings.Contains(body, "SAMLResponse") {
				passed++
			}
		}
		if passed != 1 {
			t.Fatalf("%d of the %d steps passed, want 1", passed, len(steps)+1)
		}
		if n := sessionsOf(t, e, "alice"); n != sessions+1 {
			t.Fatalf("sessions after the race: %d, want %d", n, sessions+1)
		}
		if n := audit("saml.response"); n != answered+1 {
			t.Fatalf("SAML responses: %d, want 1", n-answered)
		}
		// The step passed and the sign-in answered: a replay of the form (with the CSRF token
		// of the browser's new session) writes nothing.
		form.Set("csrf", formFields(fetch2(t, c, e.issuer+"/account/security")).Get("csrf"))
		status, again, _ := password(t, form)
		if status != http.StatusConflict || again.Get("c") != "" {
			t.Fatalf("the password form after the answer: %d (step %q)", status, again.Get("c"))
		}
	})

	t.Run("the step passed, the sign-in not answered", func(t *testing.T) {
		// A new sign-in in a new browser; the membership lapses: the step passes (a session) and
		// lms refuses, so the sign-in stays pending with its claim at a passed step.
		c = samlClient()
		form := start(t)
		sessions := sessionsOf(t, e, "alice")
		_, step, body := password(t, form)
		if step.Get("c") == "" {
			t.Fatalf("no step: %.300s", body)
		}
		lapse(e, "alice")
		defer e.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, 6, 0) })
		resp, body := pass(t, step)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("a lapsed member after the step: %d %.300s", resp.StatusCode, body)
		}
		form.Set("csrf", formFields(fetch2(t, c, e.issuer+"/account/security")).Get("csrf"))
		status, again, body := password(t, form)
		if status != http.StatusConflict || again.Get("c") != "" || !strings.Contains(body, "already sent") {
			t.Fatalf("the password form after the step passed: %d (step %q) %.300s", status, again.Get("c"), body)
		}
		if n := sessionsOf(t, e, "alice"); n != sessions+1 {
			t.Fatalf("sessions: %d, want %d", n, sessions+1)
		}
		// Without the session (ended), the continue link offers no form.
		live, err := e.store.Sessions(ctx, identitySubject(t, e, mustMember(t, e, "alice").Key))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range live {
			if err := e.store.EndSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		resp, body = continueLink(t, form.Get("id"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already sent") || strings.Contains(body, `name="password"`) ||
			strings.Contains(body, "SAMLResponse") {
			t.Fatalf("the continue link after the step passed: %d %.300s", resp.StatusCode, body)
		}
	})
}
