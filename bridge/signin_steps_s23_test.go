package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestStepUpPasswordCountedApart (brief s23 M4 item 3): the password typed again at a step-up
// (a session older than mfa.step_up_max_age, before a first second factor) is counted as
// signins_total{method="password_reconfirm"}, by outcome, never as a password sign-in
// (method="password"), which only the sign-in form counts; its audit rows are the step-up's
// (login.failure with the step-up's detail, login.step_up), not login.success. Before, each
// was counted as method="password".
func TestStepUpPasswordCountedApart(t *testing.T) {
	e := newEnv(t)
	m := httptest.NewServer(e.bridge.Metrics().Handler())
	t.Cleanup(m.Close)
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	ageStepUp(t, e, "alice")
	csrf := b.Get(e.issuer + "/account/signout-all").Hidden().Get("csrf")
	step := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"stepup"}})
	if step.URL.Path != "/login/mfa" || !strings.Contains(step.Body, `id="mfa-password"`) {
		t.Fatalf("step-up of an aged session: %d at %s: %.500s", step.Status, step.URL, step.Body)
	}
	before, _ := scrapeMetrics(t, m.URL)
	successes := func() int {
		rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.success"})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	signIns := successes()

	f := step.Hidden()
	form := url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"password"}}
	form.Set("password", "wrong-password")
	if p := b.Post(e.issuer+"/login/mfa", form); p.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password at the step-up: %d", p.Status)
	}
	form.Set("password", "alice-password")
	if p := b.Post(e.issuer+"/login/mfa", form); p.URL.Path != "/account/security" {
		t.Fatalf("password at the step-up: %d at %s", p.Status, p.URL)
	}

	after, _ := scrapeMetrics(t, m.URL)
	for series, want := range map[string]float64{
		`ssobridge_signins_total{method="password_reconfirm",outcome="ok"}`:              1,
		`ssobridge_signins_total{method="password_reconfirm",outcome="bad_credentials"}`: 1,
		`ssobridge_signins_total{method="password",outcome="ok"}`:                        0,
		`ssobridge_signins_total{method="password",outcome="bad_credentials"}`:           0,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s: changed by %v, want %v", series, got, want)
		}
	}
	if n := successes(); n != signIns {
		t.Errorf("login.success rows: %d after the step-up, %d before", n, signIns)
	}
	for event, detail := range map[string]string{"login.failure": "password confirmed again at a step-up", "login.step_up": "pwd"} {
		rows, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: event})
		if err != nil || len(rows) != 1 || !strings.Contains(rows[0].Detail, detail) {
			t.Errorf("audit %s: %+v %v, want one with %q", event, rows, err, detail)
		}
	}
}
