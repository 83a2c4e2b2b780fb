package bridge_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// ageStepUp makes the second factor of login's only session older than the default
// mfa.step_up_max_age (10 minutes): its auth time, which the sign-in with the factor or the
// last step-up set, goes back 11 minutes (the store's UpgradeSession, with the same methods).
func ageStepUp(t *testing.T, e *env, login string) {
	t.Helper()
	sub := identitySubject(t, e, mustMember(t, e, login).Key)
	list, err := e.store.Sessions(e.ctx(), sub)
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions of %s: %d %v", login, len(list), err)
	}
	s := list[0]
	if err := e.store.UpgradeSession(e.ctx(), s.ID, s.AMR, s.AMR, time.Now().Add(-11*time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityChangesNeedRecentStepUp (brief s21 H item 3, review s20 noticed; ASVS V2:
// re-authentication before changing authenticators): a session whose second factor (sign-in or
// step-up) is older than mfa.step_up_max_age changes no factor from the security page, at any
// entry point (remove or add an authenticator app, remove a passkey, begin adding a passkey):
// each sends the member through a fresh step-up, which takes a factor (not "continue", although
// the session used one before) and comes back to the page, where the change then goes through.
// The forms were loaded before the step-up aged: sent again afterwards they are refused the
// same way. Before, a step-up of any age would do.
func TestSecurityChangesNeedRecentStepUp(t *testing.T) {
	e := newEnv(t, localhostIssuer) // passkeys on (a domain)
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, _ := enrolTOTP(t, e, b)

	// Just enrolled (the factor proved in this session): the page offers changes.
	sec := b.Get(e.issuer + "/account/security")
	if strings.Contains(sec.Body, `id="security-stepup"`) || !strings.Contains(sec.Body, `id="totp-remove"`) {
		t.Fatalf("security page right after enrolment: %.800s", sec.Body)
	}
	csrf := sec.Hidden().Get("csrf")

	ageStepUp(t, e, "alice")
	if p := b.Get(e.issuer + "/account/security"); !strings.Contains(p.Body, `id="security-stepup"`) || strings.Contains(p.Body, `id="totp-remove"`) {
		t.Fatalf("security page after the step-up aged does not ask for a new one: %.800s", p.Body)
	}
	var step *bridgetest.Page
	for _, form := range []url.Values{
		{"action": {"totp-remove"}},
		{"action": {"totp-begin"}},
		{"action": {"totp-confirm"}, "code": {totpCode(t, secret, 0)}},
		{"action": {"passkey-remove"}, "passkey": {"AAAA"}},
		{"action": {"stepup"}},
	} {
		form.Set("csrf", csrf)
		p := b.Post(e.issuer+"/account/security", form)
		if p.URL.Path != "/login/mfa" || p.Hidden().Get("c") == "" {
			t.Fatalf("%s with an aged step-up: %d at %s, want the second-factor step: %.600s", form.Get("action"), p.Status, p.URL, p.Body)
		}
		step = p
	}
	// Adding a passkey (its JSON begin) is refused too.
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/account/security/passkey/begin", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "First confirm it") {
		t.Fatalf("passkey registration with an aged step-up: %d %.300s", resp.StatusCode, body)
	}

	// The step takes a factor: the session's earlier one does not let "continue" through.
	if !strings.Contains(step.Body, `name="method" value="totp"`) || strings.Contains(step.Body, `id="mfa-continue"`) {
		t.Fatalf("the step-up page does not ask for the factor: %.800s", step.Body)
	}
	if p := submitStep(b, e, step, "continue", ""); p.Status != http.StatusBadRequest {
		t.Fatalf("continue at a fresh step-up: %d %s %.400s", p.Status, p.URL, p.Body)
	}
	back := submitStep(b, e, step, "totp", totpCode(t, secret, 1))
	// Nothing changed meanwhile: the authenticator app and its codes are all there.
	if back.URL.Path != "/account/security" || strings.Contains(back.Body, `id="security-stepup"`) ||
		!strings.Contains(back.Body, "On. You have 10 unused recovery codes") {
		t.Fatalf("after the step-up: %d at %s: %.600s", back.Status, back.URL, back.Body)
	}
	if p := submitStep(b, e, step, "totp", totpCode(t, secret, 1)); p.Status != http.StatusConflict {
		t.Fatalf("the step-up replayed: %d %.300s", p.Status, p.Body)
	}
	done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-remove"}})
	if done.URL.Query().Get("done") != "totp-removed" {
		t.Fatalf("removal after a fresh step-up: %d at %s: %.400s", done.Status, done.URL, done.Body)
	}
	rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.step_up"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit login.step_up: %v %v", rows, err)
	}
}
