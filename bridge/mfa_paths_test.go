package bridge_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	crewjam "github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// resetFactors resets login's second factors through the admin API of e (which has adminToken).
func resetFactors(t *testing.T, e *env, login string) {
	t.Helper()
	srv := httptest.NewServer(e.bridge.AdminHandler())
	defer srv.Close()
	adminClient{t: t, url: srv.URL}.ok(http.MethodPost, "/admin/mfa/reset", map[string]string{"login": login})
}

// sessionsOf counts the live sessions of login's subject.
func sessionsOf(t *testing.T, e *env, login string) int {
	t.Helper()
	sub := identitySubject(t, e, mustMember(t, e, login).Key)
	s, err := e.store.Sessions(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	return len(s)
}

// handoffSignIn runs the AMS website's hand-off for alice in b: from the login page of authURL
// when it is set (an app waiting), else from the AMS website alone. It returns the page the
// hand-off ends on.
func handoffSignIn(t *testing.T, e *env, b *bridgetest.Browser, authURL string) *bridgetest.Page {
	t.Helper()
	if authURL != "" {
		f := b.Get(authURL).Hidden()
		b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}})
	}
	amsLogin(t, e, b, "alice", "alice-password")
	return iPart(t, e, b, b.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
}

// TestHandoffWaitsForSecondFactor (review s4 F9): a hand-off from the AMS website for a member
// who uses a second factor opens no session until the factor passes, exactly like a password:
// from the login page (the app then gets its code) and from the AMS website alone (the account
// page then). The step is taken once, in its browser.
func TestHandoffWaitsForSecondFactor(t *testing.T) {
	e := newEnvWith(t, true)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, codes := enrolTOTP(t, e, pw)
	before := sessionsOf(t, e, "alice")

	b := e.browser()
	step := handoffSignIn(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn")))
	if step.Location != "" || step.URL.Path != "/login/mfa" || !strings.Contains(step.Body, `value="totp"`) {
		t.Fatalf("the hand-off did not wait at the second-factor step: %d %s %q", step.Status, step.URL, step.Location)
	}
	if n := sessionsOf(t, e, "alice"); n != before {
		t.Fatalf("a session was opened before the second factor: %d, %d before", n, before)
	}
	if acc := b.Get(e.issuer + "/account"); acc.Status != http.StatusUnauthorized {
		t.Fatalf("the account page between the hand-off and the second factor: %d", acc.Status)
	}
	if p := e.browser().Get(step.URL.String()); p.Status != http.StatusForbidden {
		t.Fatalf("the step in another browser: %d", p.Status)
	}
	done := submitStep(b, e, step, "totp", totpCode(t, secret, 1))
	q := done.Redirected(t)
	if q.Get("state") != "st" {
		t.Fatalf("after the second factor: %v", q)
	}
	if c := idTokenAuth(t, e, web, verifier, q.Get("code")); !slices.Equal(c.AMR, []string{"ams", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
		t.Fatalf("hand-off with a second factor: amr %v acr %q", c.AMR, c.ACR)
	}
	if n := sessionsOf(t, e, "alice"); n != before+1 {
		t.Fatalf("sessions after the second factor: %d, %d before", n, before)
	}
	fresh := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	if replay := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {fresh}, "c": {step.Hidden().Get("c")}, "method": {"recovery"},
		"code": {codes[0]}}); replay.Status != http.StatusConflict {
		t.Fatalf("replayed step: %d %q", replay.Status, replay.Location)
	}

	// From the AMS website alone (no app waiting): the step, then the account page.
	b2 := e.browser()
	step2 := handoffSignIn(t, e, b2, "")
	if step2.URL.Path != "/login/mfa" || sessionsOf(t, e, "alice") != before+1 {
		t.Fatalf("hand-off without an app: %d %s, %d sessions", step2.Status, step2.URL, sessionsOf(t, e, "alice"))
	}
	acc := submitStep(b2, e, step2, "recovery", codes[1])
	if acc.URL.Path != "/account" || acc.Status != http.StatusOK || !strings.Contains(acc.Body, "alice@example.org") {
		t.Fatalf("after the step without an app: %d %s", acc.Status, acc.URL)
	}
}

// TestResetNoticeOnEverySignInPath (issue 16): after an administrator resets a member's
// factors, the next sign-in tells them once, whichever way they sign in: through an upstream
// provider and through the AMS website's hand-off (the password path: TestAdminMFAResetNotice;
// a passkey alone: TestBrowserPasskeys). The member then goes on with the first factor alone.
func TestResetNoticeOnEverySignInPath(t *testing.T) {
	admin := func(c *bridge.Config) { c.Admin.Token = adminToken }
	noticed := func(t *testing.T, p *bridgetest.Page) {
		t.Helper()
		if p.URL.Path != "/login/mfa" || !strings.Contains(p.Body, `id="mfa-reset-notice"`) || !strings.Contains(p.Body, `id="mfa-continue"`) {
			t.Fatalf("no reset notice with a way on: %d %s %q %.600s", p.Status, p.URL, p.Location, p.Body)
		}
	}

	t.Run("upstream", func(t *testing.T) {
		f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, admin)
		pw := f.down.browser()
		web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
		f.down.signIn(pw, web.AuthCodeURL("s"), "alice", "alice-password")
		enrolTOTP(t, f.down, pw)
		resetFactors(t, f.down, "alice")
		before := sessionsOf(t, f.down, "alice")

		b := newHTTPFed(t, f)
		p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
		noticed(t, p)
		if n := sessionsOf(t, f.down, "alice"); n != before {
			t.Fatalf("a session opened before the notice was seen: %d, %d before", n, before)
		}
		hid := p.Hidden()
		done := b.do(http.MethodPost, f.down.issuer+"/login/mfa", url.Values{"csrf": {hid.Get("csrf")}, "c": {hid.Get("c")}, "method": {"continue"}})
		if !strings.HasPrefix(done.Location, f.rp.srv.URL) {
			t.Fatalf("after the notice: %d %s %q", done.Status, done.URL, done.Location)
		}
		// Told once.
		again := newHTTPFed(t, f)
		if p := again.do(http.MethodGet, again.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
			t.Fatalf("the next upstream sign-in: %d %s %q", p.Status, p.URL, p.Location)
		}
	})

	t.Run("handoff", func(t *testing.T) {
		e := newEnvWith(t, true, admin)
		web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		pw := e.browser()
		e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
		enrolTOTP(t, e, pw)
		resetFactors(t, e, "alice")

		b := e.browser()
		p := handoffSignIn(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn")))
		noticed(t, p)
		c := idTokenAuth(t, e, web, verifier, submitStep(b, e, p, "continue", "").Redirected(t).Get("code"))
		if !slices.Equal(c.AMR, []string{"ams"}) {
			t.Fatalf("after the notice: amr %v", c.AMR)
		}
		if q := handoffSignIn(t, e, e.browser(), web.AuthCodeURL("st", oidc.Nonce("nn"))).Redirected(t); q.Get("code") == "" {
			t.Fatalf("the next hand-off: %v", q)
		}
	})

	// A member the AMS asks a factor of (review s17 R3-2): the step opens only for the notice,
	// and its continue passes because the step itself counts the hand-off against the AMS's
	// requirement (loaded.amr); without that, bob is sent to enrol instead of reaching the app.
	t.Run("handoff of a member the AMS asks a factor of", func(t *testing.T) {
		e := newEnvWith(t, true, admin)
		web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		amsFactor(e, "bob", false) // enrolled at the bridge before the AMS asked him a factor
		pw := e.browser()
		e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "bob", "bob-password")
		enrolTOTP(t, e, pw)
		amsFactor(e, "bob", true)
		resetFactors(t, e, "bob")

		b := e.browser()
		p := handoffAs(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn")), "bob", "bob-password")
		noticed(t, p)
		done := submitStep(b, e, p, "continue", "")
		if !strings.Contains(done.Location, "code=") {
			t.Fatalf("continue after the notice did not reach the app: %d %s %q", done.Status, done.URL, done.Location)
		}
		if c := idTokenAuth(t, e, web, verifier, done.Redirected(t).Get("code")); !slices.Equal(c.AMR, []string{"ams"}) {
			t.Fatalf("after the notice: amr %v, want [ams]", c.AMR)
		}
		noFactor(t, e, "bob", "the notice's continue")
	})
}

// samlClient is a cookie-keeping HTTP client that follows redirects (to the bridge and the SP).
func samlClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// fetch reads a response of c.Get or c.PostForm (do).
func fetch(t *testing.T, do func() (*http.Response, error)) (*http.Response, string) {
	t.Helper()
	resp, err := do()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var samlPostForm = regexp.MustCompile(`<form method="post" action="([^"]+)" id="saml-post">`)

// postToSP sends the bridge's SAML response page body on to the SP's assertion consumer service
// (as its script would) and returns the app's page.
func postToSP(t *testing.T, c *http.Client, body string) string {
	t.Helper()
	m := samlPostForm.FindStringSubmatch(body)
	f := formFields(body)
	if m == nil || f.Get("SAMLResponse") == "" {
		t.Fatalf("no SAML response form: %.800s", body)
	}
	_, app := fetch(t, func() (*http.Response, error) { return c.PostForm(html.UnescapeString(m[1]), f) })
	return app
}

// TestSAMLAsksForTheSecondFactor (issue 16, review s4 F9a): a member who needs a second factor
// at a SAML app goes through the second-factor step and comes back to the SAML response, both
// when signing in at the SAML app (no session before the factor) and when an existing password
// session reaches it (the session steps up). The SP (crewjam samlsp) accepts the response.
func TestSAMLAsksForTheSecondFactor(t *testing.T) {
	e, lms, _, _ := samlEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	// A password-only session (from before alice enrolled), and the browser she enrols in.
	pwOnly := e.browser()
	e.signIn(pwOnly, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, codes := enrolTOTP(t, e, pw)
	before := sessionsOf(t, e, "alice")

	// Signing in at the SAML app: password, then the step; no session before it.
	c := samlClient()
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
	f := formFields(body)
	resp, body := fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+saml.PathLogin, url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	})
	if resp.Request.URL.Path != "/login/mfa" || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("the SAML sign-in did not ask for the second factor: %d %s %.400s", resp.StatusCode, resp.Request.URL, body)
	}
	if n := sessionsOf(t, e, "alice"); n != before {
		t.Fatalf("a session was opened before the second factor: %d, %d before", n, before)
	}
	step := formFields(body)
	resp, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {step.Get("csrf")}, "c": {step.Get("c")},
			"method": {"totp"}, "code": {totpCode(t, secret, 1)}})
	})
	if resp.Request.URL.Path != saml.PathContinue {
		t.Fatalf("after the second factor: %d %s", resp.StatusCode, resp.Request.URL)
	}
	if doc, _ := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse")); !strings.Contains(string(doc), saml.ClassMFA) {
		t.Fatalf("the assertion after the second factor does not say %s: %.600s", saml.ClassMFA, doc)
	}
	if app := postToSP(t, c, body); !strings.Contains(app, "<p id=who>") {
		t.Fatalf("the SP did not sign alice in: %.400s", app)
	}
	if n := sessionsOf(t, e, "alice"); n != before+1 {
		t.Fatalf("sessions after the second factor: %d, %d before", n, before)
	}
	// The step again (replayed): done, no second response.
	fresh := formFields(fetch2(t, c, e.issuer+"/account/security")).Get("csrf")
	if resp, _ := fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/login/mfa", url.Values{"csrf": {fresh}, "c": {step.Get("c")},
			"method": {"recovery"}, "code": {codes[0]}})
	}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("replayed step: %d", resp.StatusCode)
	}

	// The password-only session reaching the SAML app is stepped up, same session, then answered.
	sessions := func() []*sso.Session {
		s, _ := e.store.Sessions(context.Background(), identitySubject(t, e, mustMember(t, e, "alice").Key))
		return s
	}
	n := len(sessions())
	// IsPassive cannot step up: NoPassive, no assertion.
	passive := true
	req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.IsPassive = &passive
	u, err := req.Redirect("", &lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	pp := pwOnly.Get(u.String())
	doc, _ := base64.StdEncoding.DecodeString(formFields(pp.Body).Get("SAMLResponse"))
	if !strings.Contains(string(doc), crewjam.StatusNoPassive) || strings.Contains(string(doc), "Assertion") {
		t.Fatalf("a passive request that needs a step-up: %d %s %.400s", pp.Status, pp.URL, doc)
	}
	p := pwOnly.Get(lms.srv.URL + "/app")
	if p.URL.Path != "/login/mfa" {
		t.Fatalf("a password session at the SAML app: %d %s", p.Status, p.URL)
	}
	done := submitStep(pwOnly, e, p, "recovery", codes[1])
	if done.URL.Path != saml.PathContinue || !strings.Contains(done.Body, "SAMLResponse") {
		t.Fatalf("after the step-up: %d %s", done.Status, done.URL)
	}
	if len(sessions()) != n || !slices.ContainsFunc(sessions(), func(s *sso.Session) bool { return slices.Equal(s.AMR, []string{"pwd", "otp", "mfa"}) }) {
		t.Fatalf("the step-up did not upgrade the session: %+v", sessions())
	}
}

// fetch2 GETs u with c and returns the body.
func fetch2(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	_, b := fetch(t, func() (*http.Response, error) { return c.Get(u) })
	return b
}

// expireChallenges ends every pending second-factor step in e's store (as ten minutes would).
func expireChallenges(t *testing.T, e *env) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE mfa_challenges SET expires_at = 1`); err != nil {
		t.Fatal(err)
	}
}

// TestHeldSignInStepOutOfOrder (review s4 F9): the second-factor step of an upstream and of a
// hand-off sign-in, taken out of order: no session before it, opened twice (the same step), and
// after it expired (refused, with the right code: no session). Replays after it passed:
// TestUpstreamSignInWithoutSecondFactorOpensNoAccount, TestHandoffWaitsForSecondFactor.
func TestHeldSignInStepOutOfOrder(t *testing.T) {
	type held struct {
		e    *env
		get  func(u string) *bridgetest.Page
		post func(v url.Values) *bridgetest.Page
		step *bridgetest.Page
		// before counts alice's sessions before the sign-in.
		before int
	}
	enrol := func(t *testing.T, e *env, web *oauth2.Config) string {
		pw := e.browser()
		e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
		secret, _ := enrolTOTP(t, e, pw)
		return secret
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (held, string)
	}{
		{"upstream", func(t *testing.T) (held, string) {
			f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
			web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
			secret := enrol(t, f.down, web)
			b := newHTTPFed(t, f)
			h := held{e: f.down, get: func(u string) *bridgetest.Page { return b.do(http.MethodGet, u, nil) },
				post:   func(v url.Values) *bridgetest.Page { return b.do(http.MethodPost, f.down.issuer+"/login/mfa", v) },
				before: sessionsOf(t, f.down, "alice")}
			h.step = h.get(b.toCallback(f, "corp").String())
			return h, secret
		}},
		{"handoff", func(t *testing.T) (held, string) {
			e := newEnvWith(t, true)
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			secret := enrol(t, e, web)
			b := e.browser()
			h := held{e: e, get: b.Get, post: func(v url.Values) *bridgetest.Page { return b.Post(e.issuer+"/login/mfa", v) },
				before: sessionsOf(t, e, "alice")}
			h.step = handoffSignIn(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn")))
			return h, secret
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, secret := tc.start(t)
			if h.step.URL.Path != "/login/mfa" {
				t.Fatalf("no second-factor step: %d %s", h.step.Status, h.step.URL)
			}
			if n := sessionsOf(t, h.e, "alice"); n != h.before {
				t.Fatalf("a session was opened before the second factor: %d, %d before", n, h.before)
			}
			// Opened again (a reload): the same step.
			again := h.get(h.step.URL.String())
			if again.Status != http.StatusOK || again.Hidden().Get("c") != h.step.Hidden().Get("c") {
				t.Fatalf("the step opened twice: %d", again.Status)
			}
			// Expired: the right code opens nothing.
			expireChallenges(t, h.e)
			if p := h.get(h.step.URL.String()); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "expired") {
				t.Fatalf("an expired step opened: %d", p.Status)
			}
			hid := again.Hidden()
			p := h.post(url.Values{"csrf": {hid.Get("csrf")}, "c": {hid.Get("c")}, "method": {"totp"}, "code": {totpCode(t, secret, 1)}})
			if p.Status != http.StatusBadRequest || p.Location != "" {
				t.Fatalf("an expired step took the code: %d %q", p.Status, p.Location)
			}
			if n := sessionsOf(t, h.e, "alice"); n != h.before {
				t.Fatalf("an expired step opened a session: %d, %d before", n, h.before)
			}
		})
	}
}

// TestSAMLBrowserSecondFactor drives a real SAML SP (samlsp) through Chromium for a member who
// uses an authenticator app: SP-initiated sign-in, the password on the bridge's page, the
// second-factor step naming the app, then the SP's page with the member's NameID.
func TestSAMLBrowserSecondFactor(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, lms, _, _ := samlEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	pw := e.browser()
	e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, _ := enrolTOTP(t, e, pw)
	ctx := chrome(t, 2*time.Minute)

	if err := chromedp.Do(ctx, chromedp.Navigate(lms.srv.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#login")
	signInAt(t, ctx, "alice", "alice-password")
	if got := shows(t, ctx, "#code", "#who"); got != "#code" {
		t.Fatalf("the SAML sign-in did not ask for the second factor (%s)", got)
	}
	if lead := text(t, ctx, "p.lead"); !strings.Contains(lead, "Learning Portal") {
		t.Fatalf("the step does not name the SAML app: %q", lead)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#code"), totpCode(t, secret, 1)),
		chromedp.Submit(css("#code"))); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#who")
	if who := text(t, ctx, "#who"); who != identitySubject(t, e, mustMember(t, e, "alice").Key) {
		t.Fatalf("SAML NameID after the second factor: %q", who)
	}
}
