package bridge_test

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
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

// shiftChallenges moves every second-factor step in e's store d into the past (opened and
// expiring d earlier), as d of waiting at the step would.
func shiftChallenges(t *testing.T, e *env, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE mfa_challenges SET created_at = created_at - ?, expires_at = expires_at - ?`,
		d.Nanoseconds(), d.Nanoseconds()); err != nil {
		t.Fatal(err)
	}
}

// TestSignInStepBoundedByStepUpAge (brief s23 M4 item 2): a sign-in's second-factor step is
// open no longer than mfa.step_up_max_age (here 2m, under the step's ten minutes) after its
// first factor, from every entry point that has one: the login page's password, the AMS
// website's hand-off, an upstream provider's sign-in. At a minute the step is open; at three the
// right code completes nothing (the store's challenge has expired) and no session is written.
// A step-up (the security page's, on a live session) is its own proof, the factor typed then
// (its session's auth time is set when it passes): it keeps its ten minutes and passes at three.
// Before, every step lived ten minutes: a password typed 9 minutes ago plus a factor now opened
// a session that counted as signed in now.
func TestSignInStepBoundedByStepUpAge(t *testing.T) {
	age := func(c *bridge.Config) { c.MFA.StepUpMaxAge = 2 * time.Minute }
	type step struct {
		e      *env
		get    func(u string) *bridgetest.Page
		post   func(v url.Values) *bridgetest.Page
		page   *bridgetest.Page
		secret string
	}
	enrol := func(t *testing.T, e *env, web *oauth2.Config) string {
		pw := e.browser()
		e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
		secret, _ := enrolTOTP(t, e, pw)
		return secret
	}
	local := func(e *env, b *bridgetest.Browser) step {
		return step{e: e, get: b.Get, post: func(v url.Values) *bridgetest.Page { return b.Post(e.issuer+"/login/mfa", v) }}
	}
	for _, tc := range []struct {
		name   string
		stepUp bool
		start  func(t *testing.T) step
	}{
		{"login page", false, func(t *testing.T) step {
			e := newEnv(t, age)
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			secret := enrol(t, e, web)
			b := e.browser()
			s := local(e, b)
			s.page, s.secret = mfaStep(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn"))), secret
			return s
		}},
		{"hand-off", false, func(t *testing.T) step {
			e := newEnvWith(t, true, age)
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			secret := enrol(t, e, web)
			b := e.browser()
			s := local(e, b)
			s.page, s.secret = handoffSignIn(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn"))), secret
			return s
		}},
		{"upstream", false, func(t *testing.T) step {
			f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, age)
			web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
			secret := enrol(t, f.down, web)
			b := newHTTPFed(t, f)
			s := step{e: f.down, get: func(u string) *bridgetest.Page { return b.do(http.MethodGet, u, nil) },
				post: func(v url.Values) *bridgetest.Page { return b.do(http.MethodPost, f.down.issuer+"/login/mfa", v) }, secret: secret}
			s.page = s.get(b.toCallback(f, "corp").String())
			return s
		}},
		{"step-up page", true, func(t *testing.T) step {
			e := newEnv(t, age)
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			b := e.browser()
			e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
			secret, _ := enrolTOTP(t, e, b)
			ageStepUp(t, e, "alice")
			csrf := b.Get(e.issuer + "/account/signout-all").Hidden().Get("csrf")
			s := local(e, b)
			s.page, s.secret = b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"stepup"}}), secret
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start(t)
			raw := s.page.Hidden().Get("c")
			if s.page.URL.Path != "/login/mfa" || raw == "" {
				t.Fatalf("no second-factor step: %d at %s", s.page.Status, s.page.URL)
			}
			ch, err := s.e.store.MFAChallenge(s.e.ctx(), sso.HashToken("mfa-challenge:"+raw))
			if err != nil {
				t.Fatal(err)
			}
			want := 2 * time.Minute
			if tc.stepUp {
				want = 10 * time.Minute
			}
			if got := ch.ExpiresAt.Sub(ch.CreatedAt); got != want {
				t.Fatalf("the step lives %s, want %s", got, want)
			}
			before := sessionsOf(t, s.e, "alice")
			shiftChallenges(t, s.e, time.Minute)
			if p := s.get(s.page.URL.String()); p.Status != http.StatusOK || p.Hidden().Get("c") != raw {
				t.Fatalf("the step a minute later: %d %.300s", p.Status, p.Body)
			}
			shiftChallenges(t, s.e, 2*time.Minute)
			hid := s.page.Hidden()
			p := s.post(url.Values{"csrf": {hid.Get("csrf")}, "c": {raw}, "method": {"totp"}, "code": {totpCode(t, s.secret, 1)}})
			if tc.stepUp {
				if p.Status >= 400 || p.URL.Path != "/account/security" {
					t.Fatalf("the step-up's code three minutes later: %d at %s: %.300s", p.Status, p.URL, p.Body)
				}
				if s := onlySession(t, s.e, "alice"); time.Since(s.AuthTime) > time.Minute {
					t.Fatalf("the step-up did not make the session recent: auth time %s", s.AuthTime)
				}
				return
			}
			if p.Status != http.StatusBadRequest || p.Location != "" || !strings.Contains(p.Body, "expired") {
				t.Fatalf("the sign-in's code three minutes after its first factor: %d %q %.300s", p.Status, p.Location, p.Body)
			}
			if n := sessionsOf(t, s.e, "alice"); n != before {
				t.Fatalf("an aged sign-in step opened a session: %d, %d before", n, before)
			}
		})
	}
}
