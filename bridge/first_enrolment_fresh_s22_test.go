package bridge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// postJSON posts a form to one of the passkey ceremonies' JSON endpoints.
func postJSON(t *testing.T, b *bridgetest.Browser, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body
}

// TestFirstEnrolmentNeedsRecentSignIn (brief s22 H2 item 1): a member with no second factor
// adds a first one (mfa.first_enrolment: open) only in a session signed in no longer than
// mfa.step_up_max_age ago, at every entry point (authenticator app begin and confirm, passkey
// begin and finish); an older session types the password again first, at the step-up page,
// which takes neither "continue" nor an enrolment before it, nor a wrong password, and comes back
// to the security page. Before, any session, however old (a stolen cookie), enrolled the
// attacker's authenticator: the security page offered it at once.
func TestFirstEnrolmentNeedsRecentSignIn(t *testing.T) {
	e := newEnv(t, localhostIssuer) // passkeys on (a domain)
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	sec := b.Get(e.issuer + "/account/security")
	if !strings.Contains(sec.Body, `id="totp-begin"`) || strings.Contains(sec.Body, `id="security-stepup"`) {
		t.Fatalf("security page right after the sign-in: %.800s", sec.Body)
	}
	csrf := sec.Hidden().Get("csrf")
	// A passkey ceremony begun while the sign-in was recent.
	status, begun := postJSON(t, b, e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {csrf}})
	ceremony, _ := begun["ceremony"].(string)
	if status != http.StatusOK || ceremony == "" {
		t.Fatalf("passkey begin right after the sign-in: %d %v", status, begun)
	}

	ageStepUp(t, e, "alice")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="security-confirm-password"`) ||
		strings.Contains(p.Body, `id="totp-begin"`) || strings.Contains(p.Body, `id="passkey-register"`) {
		t.Fatalf("security page of an aged sign-in offers a first factor: %.800s", p.Body)
	}
	var step *bridgetest.Page
	for _, form := range []url.Values{
		{"action": {"totp-begin"}},
		{"action": {"totp-confirm"}, "code": {"123456"}},
		{"action": {"stepup"}},
	} {
		form.Set("csrf", csrf)
		p := b.Post(e.issuer+"/account/security", form)
		if p.URL.Path != "/login/mfa" || !strings.Contains(p.Body, `id="mfa-password"`) || strings.Contains(p.Body, `id="totp-secret"`) {
			t.Fatalf("%s with an aged sign-in: %d at %s, want the password at the step: %.600s", form.Get("action"), p.Status, p.URL, p.Body)
		}
		step = p
	}
	answer := url.Values{"csrf": {csrf}, "ceremony": {ceremony}, "credential": {`{"id":"AAAA"}`}, "name": {"Thief"}}
	for path, form := range map[string]url.Values{"begin": {"csrf": {csrf}}, "finish": answer} {
		status, body := postJSON(t, b, e.issuer+"/account/security/passkey/"+path, form)
		if msg, _ := body["error"].(string); status != http.StatusForbidden || !strings.Contains(msg, "with your password") {
			t.Fatalf("passkey %s with an aged sign-in: %d %v", path, status, body)
		}
	}

	// The step takes the password first: not "continue" (which would make the session
	// recent), not an enrolment, not a wrong password.
	f := step.Hidden()
	for _, form := range []url.Values{
		{"method": {"continue"}},
		{"method": {"enrol"}, "code": {"123456"}},
		{"method": {"password"}, "password": {"wrong-password"}},
	} {
		form.Set("csrf", f.Get("csrf"))
		form.Set("c", f.Get("c"))
		p := b.Post(e.issuer+"/login/mfa", form)
		if p.Status < 400 || !strings.Contains(p.Body, `id="mfa-password"`) {
			t.Fatalf("%s at the password step: %d at %s: %.500s", form.Get("method"), p.Status, p.URL, p.Body)
		}
	}
	if s := onlySession(t, e, "alice"); time.Since(s.AuthTime) < 10*time.Minute {
		t.Fatalf("the refused answers made the session recent: auth time %s", s.AuthTime)
	}
	pw := url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"password"}, "password": {"alice-password"}}
	back := b.Post(e.issuer+"/login/mfa", pw)
	if back.URL.Path != "/account/security" || !strings.Contains(back.Body, `id="totp-begin"`) {
		t.Fatalf("after the password: %d at %s: %.600s", back.Status, back.URL, back.Body)
	}
	if s := onlySession(t, e, "alice"); time.Since(s.AuthTime) > time.Minute || !slices.Equal(s.AMR, []string{"pwd"}) {
		t.Fatalf("session after the password: auth time %s amr %v", s.AuthTime, s.AMR)
	}
	if p := b.Post(e.issuer+"/login/mfa", pw); p.Status != http.StatusConflict {
		t.Fatalf("the password step replayed: %d %.300s", p.Status, p.Body)
	}
	// The ceremony begun before was kept by the refusal: its answer is checked now (and, made
	// up, refused).
	if status, body := postJSON(t, b, e.issuer+"/account/security/passkey/finish", answer); status != http.StatusUnauthorized {
		t.Fatalf("passkey finish after the password: %d %v", status, body)
	}
	enrolTOTP(t, e, b)
	rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.step_up"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit login.step_up: %v %v", rows, err)
	}
}

// TestStepUpEnrolmentNeedsRecentSignIn (brief s22 H2 item 1): an app that requires a second
// factor sends a session of a member without one to enrol at the step-up page; a session older
// than mfa.step_up_max_age types the password first there, then enrols, and the app gets its
// code. Before, the step offered the enrolment (the authenticator app's secret) at once.
func TestStepUpEnrolmentNeedsRecentSignIn(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "other" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	ageStepUp(t, e, "alice")
	p := b.Get(other.AuthCodeURL("s", oidc.Nonce("n")))
	if p.URL.Path != "/login/mfa" || !strings.Contains(p.Body, `id="mfa-password"`) || totpSecretRe.MatchString(p.Body) {
		t.Fatalf("the required app's step-up of an aged session: %d at %s: %.600s", p.Status, p.URL, p.Body)
	}
	if q := submitStep(b, e, p, "enrol", "123456"); q.Status != http.StatusForbidden || totpSecretRe.MatchString(q.Body) {
		t.Fatalf("enrolment before the password: %d %.400s", q.Status, q.Body)
	}
	f := p.Hidden()
	enrol := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"password"},
		"password": {"alice-password"}})
	m := totpSecretRe.FindStringSubmatch(enrol.Body)
	if enrol.URL.Path != "/login/mfa" || m == nil {
		t.Fatalf("after the password: %d at %s, want the enrolment: %.600s", enrol.Status, enrol.URL, enrol.Body)
	}
	done := submitStep(b, e, enrol, "enrol", totpCode(t, m[1], 0))
	next := regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`).FindStringSubmatch(done.Body)
	if next == nil {
		t.Fatalf("no way on after enrolment: %d %.500s", done.Status, done.Body)
	}
	if code := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")).Redirected(t).Get("code"); code == "" {
		t.Fatal("no code for the app after the password and the enrolment")
	}
}

// TestHandOffFirstEnrolmentNeedsRecentHandOff (brief s22 H2 item 1): a member the AMS signs in
// only with a second factor enrols a first one at the bridge only after the AMS website's
// hand-off (mfa.MayEnrolFirst); a hand-off session older than mfa.step_up_max_age does not
// (on the security page, at a step-up an app asks for), and no password replaces it (the AMS's
// own factor): a new hand-off does, here after signing out (into the member's live session too
// since s23: TestHandOffAgainRefreshesFirstEnrolment). Before, the hand-off session enrolled at
// any age.
func TestHandOffFirstEnrolmentNeedsRecentHandOff(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	amsFactor(e, "bob", true)
	b := e.browser()
	handoffAs(t, e, b, "", "bob", "bob-password")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="totp-begin"`) {
		t.Fatalf("security page right after the hand-off: %d %.600s", p.Status, p.Body)
	}
	ageStepUp(t, e, "bob")
	sec := b.Get(e.issuer + "/account/security")
	if !strings.Contains(sec.Body, `id="security-handoff-again"`) || strings.Contains(sec.Body, `id="totp-begin"`) ||
		strings.Contains(sec.Body, `id="security-stepup"`) {
		t.Fatalf("security page of an aged hand-off: %.800s", sec.Body)
	}
	acct := b.Get(e.issuer + "/account/signout-all") // the security page has no form: another page's CSRF token
	csrf := acct.Hidden().Get("csrf")
	if csrf == "" {
		t.Fatalf("account page: %d at %s: %.600s", acct.Status, acct.URL, acct.Body)
	}
	for _, action := range []string{"totp-begin", "totp-confirm", "stepup"} {
		p := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {action}, "code": {"123456"}})
		if p.Status != http.StatusForbidden || totpSecretRe.MatchString(p.Body) || !strings.Contains(p.Body, "too long ago") {
			t.Fatalf("%s on an aged hand-off: %d at %s: %.600s", action, p.Status, p.URL, p.Body)
		}
	}
	if p := stepUpFor(t, b, web); p.Status != http.StatusForbidden || totpSecretRe.MatchString(p.Body) ||
		strings.Contains(p.Body, `id="mfa-password"`) || !strings.Contains(p.Body, "too long ago") {
		t.Fatalf("acr_values=mfa step-up of an aged hand-off: %d %.600s", p.Status, p.Body)
	}
	noFactor(t, e, "bob", "aged hand-off")
	// Signed out of this browser, a new hand-off: the enrolment is offered.
	if f := b.Get(e.issuer + "/logout").Hidden(); f.Get("csrf") != "" {
		b.Post(e.issuer+"/logout", f)
	}
	handoffAs(t, e, b, "", "bob", "bob-password")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="totp-begin"`) {
		t.Fatalf("security page after a new hand-off: %d %.600s", p.Status, p.Body)
	}
}
