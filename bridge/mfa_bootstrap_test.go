package bridge_test

import (
	"context"
	"errors"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// enrolElsewhere is the heading of the page that tells a member the AMS asks a second factor of
// that a first one is set up only after the AMS website's hand-off.
const enrolElsewhere = "Set up your second factor from the association&#39;s website"

// amsFactor sets whether the AMS signs login in only with a second factor (iMIS MultiFactorInfo).
func amsFactor(e *env, login string, on bool) {
	e.dir.Update(login, func(m *legacy.Member) { m.SecondFactor = on })
}

// handoffAs runs the AMS website's hand-off for login in b, from the login page of authURL when
// it is set (an app waiting), and returns the page it ends on.
func handoffAs(t *testing.T, e *env, b *bridgetest.Browser, authURL, login, password string) *bridgetest.Page {
	t.Helper()
	if authURL != "" {
		f := b.Get(authURL).Hidden()
		b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}})
	}
	amsLogin(t, e, b, login, password)
	return iPart(t, e, b, b.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
}

// noFactor fails t when login has a second factor (or a pending authenticator app) in the store.
func noFactor(t *testing.T, e *env, login, what string) {
	t.Helper()
	sub := identitySubject(t, e, mustMember(t, e, login).Key)
	if f, err := e.store.TOTP(context.Background(), sub); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("%s: %s has an authenticator app (confirmed %v) or the store failed: %v", what, login, f != nil && f.Confirmed, err)
	}
	if creds, err := e.store.WebAuthnCredentials(context.Background(), sub); err != nil || len(creds) != 0 {
		t.Fatalf("%s: %s has %d passkeys (%v)", what, login, len(creds), err)
	}
}

// refusedToEnrol fails t unless p is the page telling the member to start from the AMS website,
// with no authenticator-app secret on it.
func refusedToEnrol(t *testing.T, p *bridgetest.Page, what string) {
	t.Helper()
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, enrolElsewhere) || totpSecretRe.MatchString(p.Body) {
		t.Fatalf("%s: want the 403 page sending the member to the AMS website, no secret: %d %s %q %.700s", what, p.Status, p.URL, p.Location, p.Body)
	}
}

// enrolHere reads the authenticator-app secret on a step page and confirms it there.
func enrolHere(t *testing.T, e *env, b *bridgetest.Browser, step *bridgetest.Page) (*bridgetest.Page, string) {
	t.Helper()
	m := totpSecretRe.FindStringSubmatch(step.Body)
	if m == nil {
		t.Fatalf("no enrolment at the step: %d %s %.700s", step.Status, step.URL, step.Body)
	}
	return submitStep(b, e, step, "enrol", totpCode(t, m[1], 0)), m[1]
}

// TestAMSSecondFactorEnrolmentNeedsHandoff (brief M item 1; review s12 W9, s15 X-6): a member
// the AMS signs in only with a second factor (legacy.Member.SecondFactor) and who has no factor
// at the bridge yet enrols one only in a sign-in the AMS website's hand-off opened, where the
// AMS asked for its own factor: after the password alone (an attacker who phished it) no secret
// is made or shown, and an enrolment posted anyway is refused, at the sign-in step, on the
// security page, for a device and for the console's acr_values=mfa alike; the password grant is
// refused with RFC 6749 JSON. Through the hand-off the member enrols and then signs in with the
// password and the new factor. A member the AMS does not ask enrols after the password as before.
func TestAMSSecondFactorEnrolmentNeedsHandoff(t *testing.T) {
	e := newEnvWith(t, true, withGrantClients)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	amsFactor(e, "bob", true)

	t.Run("sign-in step", func(t *testing.T) {
		b := e.browser()
		p := b.Login(b.Get(web.AuthCodeURL("s", oidc.Nonce("n"))), "bob", "bob-password")
		refusedToEnrol(t, p, "password sign-in")
		// An enrolment posted to the step anyway (the challenge id is in the step's URL).
		c := p.URL.Query().Get("c")
		if c == "" {
			t.Fatalf("the refusal is not at the step: %s", p.URL)
		}
		csrf := b.Get(web.AuthCodeURL("s", oidc.Nonce("n"))).Hidden().Get("csrf") // this browser's
		for _, code := range []string{"000000", "123456"} {
			refusedToEnrol(t, b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {csrf}, "c": {c}, "method": {"enrol"}, "code": {code}}), "enrolment posted")
		}
		if cont := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {csrf}, "c": {c}, "method": {"continue"}}); cont.Location != "" && strings.Contains(cont.Location, "code=") {
			t.Fatalf("continue without a factor reached the app: %q", cont.Location)
		}
		noFactor(t, e, "bob", "after the password")
		ev, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "mfa.enrol_refused"})
		if err != nil || len(ev) == 0 {
			t.Fatalf("no mfa.enrol_refused audit row: %v", err)
		}
	})

	t.Run("device", func(t *testing.T) {
		cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		p := deviceApprove(t, e, da.UserCode, "bob", "bob-password")
		if p.status != http.StatusForbidden || !strings.Contains(p.body, enrolElsewhere) || totpSecretRe.MatchString(p.body) {
			t.Fatalf("device approval after the password: %d %s %.500s", p.status, p.path, p.body)
		}
		noFactor(t, e, "bob", "device")
	})

	t.Run("console acr_values=mfa", func(t *testing.T) {
		// The console asks acr_values=mfa (admin.console.require_second_factor): the same step.
		u := web.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA))
		b := e.browser()
		refusedToEnrol(t, b.Login(b.Get(u), "bob", "bob-password"), "acr_values=mfa")
		noFactor(t, e, "bob", "acr_values=mfa")
	})

	t.Run("password grant", func(t *testing.T) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "bob",
			"password": "bob-password", "scope": "openid"}, "legacy", legacySecret)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
		noFactor(t, e, "bob", "password grant")
	})

	t.Run("security page", func(t *testing.T) {
		// A password session of bob from before the AMS asked him (or before the bridge read it).
		amsFactor(e, "bob", false)
		b := e.browser()
		e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "bob", "bob-password")
		amsFactor(e, "bob", true)
		sec := b.Get(e.issuer + "/account/security")
		if sec.Status != http.StatusOK || !strings.Contains(sec.Body, `id="security-error"`) || !strings.Contains(sec.Body, "association&#39;s website") {
			t.Fatalf("security page of a password session: %d %.600s", sec.Status, sec.Body)
		}
		csrf := sec.Hidden().Get("csrf")
		for _, action := range []string{"totp-begin", "totp-confirm"} {
			p := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {action}, "code": {"123456"}})
			if p.Status != http.StatusForbidden || totpSecretRe.MatchString(p.Body) {
				t.Fatalf("%s on a password session: %d %.600s", action, p.Status, p.Body)
			}
		}
		noFactor(t, e, "bob", "security page")
	})

	t.Run("hand-off", func(t *testing.T) {
		// The hand-off alone satisfies the AMS's own requirement (TestHandoffSatisfiesAMSSecondFactor);
		// an app that asks a factor (acr_values) has the member enrol one at the bridge.
		b := e.browser()
		step := handoffAs(t, e, b, web.AuthCodeURL("st", oidc.Nonce("nn"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)), "bob", "bob-password")
		if step.URL.Path != "/login/mfa" {
			t.Fatalf("the hand-off of a member without a bridge factor: %d %s %q", step.Status, step.URL, step.Location)
		}
		done, secret := enrolHere(t, e, b, step)
		if done.Status != http.StatusOK || !strings.Contains(done.Body, "recovery") {
			t.Fatalf("after enrolling at the hand-off's step: %d %.500s", done.Status, done.Body)
		}
		// Replayed: the step is used.
		if again := submitStep(b, e, step, "enrol", totpCode(t, secret, 1)); again.Status != http.StatusConflict {
			t.Fatalf("the enrolment replayed: %d %.300s", again.Status, again.Body)
		}
		next := continueRe.FindStringSubmatch(done.Body)
		if next == nil {
			t.Fatalf("no way on after the recovery codes: %.500s", done.Body)
		}
		q := b.Get(e.issuer + html.UnescapeString(next[1])).Redirected(t)
		if c := idTokenAuth(t, e, web, verifier, q.Get("code")); !slices.Equal(c.AMR, []string{"ams", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
			t.Fatalf("hand-off with an enrolment: amr %v acr %q", c.AMR, c.ACR)
		}
		// Now the password works with the factor.
		pw := e.browser()
		s := pw.Login(pw.Get(web.AuthCodeURL("s2", oidc.Nonce("n2"))), "bob", "bob-password")
		if s.URL.Path != "/login/mfa" || !strings.Contains(s.Body, `value="totp"`) {
			t.Fatalf("password sign-in after enrolling: %d %s %.400s", s.Status, s.URL, s.Body)
		}
		if q := submitStep(pw, e, s, "totp", totpCode(t, secret, 1)).Redirected(t); q.Get("code") == "" {
			t.Fatalf("no code after the password and the factor: %v", q)
		}
	})

	t.Run("member the AMS does not ask", func(t *testing.T) {
		b := e.browser()
		p := b.Login(b.Get(web.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA))), "alice", "alice-password")
		if done, _ := enrolHere(t, e, b, p); done.Status != http.StatusOK || !continueRe.MatchString(done.Body) {
			t.Fatalf("alice's enrolment after the password: %d %.500s", done.Status, done.Body)
		}
	})
}

// passkeyBegin posts the security page's "add a passkey" start in b.
func passkeyBegin(t *testing.T, e *env, b *bridgetest.Browser) *bridgetest.Page {
	t.Helper()
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	return b.Post(e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {csrf}})
}

// stepUpFor opens a step-up of b's session for web with acr_values=mfa and returns its page.
func stepUpFor(t *testing.T, b *bridgetest.Browser, web *oauth2.Config) *bridgetest.Page {
	t.Helper()
	p := b.Get(web.AuthCodeURL("up", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)))
	if p.URL.Path != "/login/mfa" {
		t.Fatalf("acr_values=mfa on a live session: %d %s %q, want the step", p.Status, p.URL, p.Location)
	}
	return p
}

// TestAMSSecondFactorEnrolmentState (brief M item 1): the "may enrol a first factor" fact of a
// member the AMS asks a factor of is the one the store recorded for the sign-in (the
// challenge's methods, written when the AMS hand-off or the password opened it; a step-up's
// session as it is when the enrolment is posted), never the browser's pending secret or a
// cookie. Each entry point replayed and out of order:
//   - two tabs of one browser, a hand-off step (may enrol; acr_values=mfa asks it) and a
//     password step (may not): the
//     hand-off tab's secret posted to the password tab's step is refused; the hand-off tab
//     enrols once; replayed, it is used;
//   - a step-up of a hand-off session whose browser then signed in another member: refused;
//   - a step-up of a hand-off session that the same member then signed in to again with the
//     password (another tab): refused, though the step began in the hand-off session;
//   - passkey registration: refused on a password session, begun on a hand-off session.
func TestAMSSecondFactorEnrolmentState(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// localhost: WebAuthn (the passkey entry point) needs a domain; still 127.0.0.1 only.
	e := newEnvAt(t, ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), true, nil, envDeps{})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	bob := func() string { return identitySubject(t, e, mustMember(t, e, "bob").Key) }
	confirmed := func() bool {
		f, err := e.store.TOTP(context.Background(), bob())
		return err == nil && f.Confirmed
	}

	t.Run("two tabs", func(t *testing.T) {
		amsFactor(e, "bob", true)
		b := e.browser()
		ho := handoffAs(t, e, b, web.AuthCodeURL("s1", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)), "bob", "bob-password")
		m := totpSecretRe.FindStringSubmatch(ho.Body)
		if ho.URL.Path != "/login/mfa" || m == nil {
			t.Fatalf("hand-off step: %d %s %.400s", ho.Status, ho.URL, ho.Body)
		}
		pw := b.Login(b.Get(web.AuthCodeURL("s2", oidc.Nonce("n"))), "bob", "bob-password")
		refusedToEnrol(t, pw, "the password tab")
		csrf := ho.Hidden().Get("csrf")
		out := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {csrf}, "c": {pw.URL.Query().Get("c")}, "method": {"enrol"},
			"code": {totpCode(t, m[1], 0)}})
		refusedToEnrol(t, out, "the hand-off tab's code at the password tab's step")
		if confirmed() {
			t.Fatal("an authenticator app was enrolled at the password's step")
		}
		done, _ := enrolHere(t, e, b, ho)
		if done.Status != http.StatusOK || !continueRe.MatchString(done.Body) || !confirmed() {
			t.Fatalf("the hand-off tab's enrolment: %d %.400s", done.Status, done.Body)
		}
		if again := submitStep(b, e, ho, "enrol", totpCode(t, m[1], 1)); again.Status != http.StatusConflict {
			t.Fatalf("replayed: %d", again.Status)
		}
		resetFactors0(t, e, bob())
	})

	// handoffSession opens a hand-off session of bob in a new browser (while the AMS does not ask
	// him: the bridge opens it without a step), then has the AMS ask him.
	handoffSession := func(t *testing.T) *bridgetest.Browser {
		t.Helper()
		amsFactor(e, "bob", false)
		b := e.browser()
		if p := handoffAs(t, e, b, "", "bob", "bob-password"); p.URL.Path != "/account" {
			t.Fatalf("hand-off without a step: %d %s", p.Status, p.URL)
		}
		amsFactor(e, "bob", true)
		return b
	}

	t.Run("step-up, member changed", func(t *testing.T) {
		b := handoffSession(t)
		step := stepUpFor(t, b, web)
		m := totpSecretRe.FindStringSubmatch(step.Body)
		if m == nil {
			t.Fatalf("no enrolment at the hand-off session's step-up: %.400s", step.Body)
		}
		e.signIn(b, web.AuthCodeURL("a", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "login")), "alice", "alice-password")
		out := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {freshCSRF(t, e, b)}, "c": {step.Hidden().Get("c")}, "method": {"enrol"},
			"code": {totpCode(t, m[1], 0)}})
		if out.Status != http.StatusForbidden || !strings.Contains(out.Body, "no longer signed in") || confirmed() {
			t.Fatalf("bob's step-up after alice signed in: %d confirmed %v %.300s", out.Status, confirmed(), out.Body)
		}
		resetFactors0(t, e, bob())
	})

	t.Run("step-up, password since", func(t *testing.T) {
		b := handoffSession(t)
		step := stepUpFor(t, b, web)
		m := totpSecretRe.FindStringSubmatch(step.Body)
		if m == nil {
			t.Fatalf("no enrolment at the hand-off session's step-up: %.400s", step.Body)
		}
		amsFactor(e, "bob", false)
		e.signIn(b, web.AuthCodeURL("b", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "login")), "bob", "bob-password")
		amsFactor(e, "bob", true)
		out := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {freshCSRF(t, e, b)}, "c": {step.Hidden().Get("c")}, "method": {"enrol"},
			"code": {totpCode(t, m[1], 0)}})
		refusedToEnrol(t, out, "the hand-off session's step-up after a password sign-in")
		if confirmed() {
			t.Fatal("enrolled in a session the password signed in to again")
		}
		resetFactors0(t, e, bob())
	})

	t.Run("passkey registration", func(t *testing.T) {
		amsFactor(e, "bob", false)
		pw := e.browser()
		e.signIn(pw, web.AuthCodeURL("p", oidc.Nonce("n")), "bob", "bob-password")
		amsFactor(e, "bob", true)
		if p := passkeyBegin(t, e, pw); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "association") {
			t.Fatalf("passkey registration on a password session: %d %.300s", p.Status, p.Body)
		}
		if p := passkeyBegin(t, e, handoffSession(t)); p.Status != http.StatusOK || !strings.Contains(p.Body, "challenge") {
			t.Fatalf("passkey registration on a hand-off session: %d %.300s", p.Status, p.Body)
		}
		noFactor(t, e, "bob", "passkey begin")
	})
}

// resetFactors0 removes subject's authenticator app (a test's clean-up between cases).
func resetFactors0(t *testing.T, e *env, subject string) {
	t.Helper()
	if err := e.store.DeleteTOTP(context.Background(), subject); err != nil && !errors.Is(err, sso.ErrNotFound) {
		t.Fatal(err)
	}
}

// freshCSRF is b's current form token (it changes when the browser's session does).
func freshCSRF(t *testing.T, e *env, b *bridgetest.Browser) string {
	t.Helper()
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	if csrf == "" {
		t.Fatal("no form token on the security page")
	}
	return csrf
}

// TestConsoleAMSSecondFactorNoEnrolment (brief M item 1; review s12 W9 for the console): an
// administrator the AMS asks a second factor of, with none at the bridge, does not enrol one at
// the console's sign-in after the password alone (a phished SysAdmin password would otherwise
// open the console with the thief's authenticator): the step sends them to the AMS website, and
// the console stays closed.
func TestConsoleAMSSecondFactorNoEnrolment(t *testing.T) {
	var logged lockedBuffer
	e, console := consoleEnvMFA(t, nil, &logged)
	amsFactor(e, "bob", true)
	b := e.browser()
	p := visitAll(t, b, console+"/console/")
	if p.URL.Path != "/authorize" || p.URL.Query().Get("acr_values") != sso.ACRMFA {
		t.Fatalf("the console's sign-in: %s (%d)", p.URL, p.Status)
	}
	refusedToEnrol(t, b.Login(p, "bob", "bob-password"), "the console's sign-in")
	if q := visitAll(t, b, console+"/console/"); atConsole(q, console) {
		t.Fatalf("the console opened: %s", q.URL)
	}
	noFactor(t, e, "bob", "console")
}
