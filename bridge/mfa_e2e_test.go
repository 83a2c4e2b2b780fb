package bridge_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

var (
	totpSecretRe   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryCodeRe = regexp.MustCompile(`<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>`)
)

// totpCode is the code of secret for the time step at now+offset steps.
func totpCode(t testing.TB, secret string, offset int) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Now().Add(time.Duration(offset)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// mfaClaims are the ID token's authentication claims.
type mfaClaims struct {
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
}

// idTokenAuth exchanges code and returns the ID token's amr and acr.
func idTokenAuth(t *testing.T, e *env, cfg *oauth2.Config, verifier *oidc.IDTokenVerifier, code string) mfaClaims {
	t.Helper()
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	var c mfaClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP sets up alice's authenticator app from the security page of a signed-in browser
// and returns the secret and the recovery codes.
func enrolTOTP(t *testing.T, e *env, b *bridgetest.Browser) (string, []string) {
	t.Helper()
	sec := b.Get(e.issuer + "/account/security")
	if sec.Status != http.StatusOK || !strings.Contains(sec.Body, `id="totp-begin"`) {
		t.Fatalf("security page: %d %.600s", sec.Status, sec.Body)
	}
	csrf := sec.Hidden().Get("csrf")
	begun := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	m := totpSecretRe.FindStringSubmatch(begun.Body)
	if m == nil || !strings.Contains(begun.Body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page has no secret or inline QR code: %.800s", begun.Body)
	}
	secret := m[1]
	wrong := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"}, "code": {"000000"}})
	if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, "not right") {
		t.Fatalf("wrong confirmation code: %d", wrong.Status)
	}
	done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"}, "code": {totpCode(t, secret, 0)}})
	var codes []string
	for _, m := range recoveryCodeRe.FindAllStringSubmatch(done.Body, -1) {
		codes = append(codes, m[1])
	}
	if done.Status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("confirmation: status %d, %d recovery codes: %.800s", done.Status, len(codes), done.Body)
	}
	return secret, codes
}

// mfaStep signs in with the password and expects the second-factor step; it returns the step page.
func mfaStep(t *testing.T, e *env, b *bridgetest.Browser, authURL string) *bridgetest.Page {
	t.Helper()
	p := b.Login(b.Get(authURL), "alice", "alice-password")
	if p.Location != "" || !strings.HasPrefix(p.URL.Path, "/login/mfa") || p.Hidden().Get("c") == "" {
		t.Fatalf("password did not lead to the second-factor step: status %d at %s, location %q: %.500s", p.Status, p.URL, p.Location, p.Body)
	}
	return p
}

func submitStep(b *bridgetest.Browser, e *env, step *bridgetest.Page, method, code string) *bridgetest.Page {
	f := step.Hidden()
	return b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {method}, "code": {code}})
}

// TestTOTPSignIn: enrolment with a QR code and a confirmation code, then sign-in with a
// computed code; a wrong and a reused code are refused; a recovery code works once; the ID
// token says what happened (amr, acr).
func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	first := idTokenAuth(t, e, cfg, verifier, e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if !slices.Equal(first.AMR, []string{"pwd"}) || first.ACR != sso.ACRSingleFactor {
		t.Fatalf("password sign-in: amr %v acr %q", first.AMR, first.ACR)
	}
	secret, codes := enrolTOTP(t, e, b)

	// A new browser: the password alone no longer signs alice in.
	b2 := e.browser()
	step := mfaStep(t, e, b2, cfg.AuthCodeURL("s", oidc.Nonce("n")))
	if !strings.Contains(step.Body, `value="totp"`) {
		t.Fatalf("step page has no code form: %.500s", step.Body)
	}
	// No session exists yet: the account page says so and a new request is not answered.
	if acc := b2.Get(e.issuer + "/account"); acc.Status != http.StatusUnauthorized {
		t.Fatalf("account page between password and second factor: %d", acc.Status)
	}
	if wrong := submitStep(b2, e, step, "totp", "123456"); wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, "not right") {
		t.Fatalf("wrong code: %d %.300s", wrong.Status, wrong.Body)
	}
	code := totpCode(t, secret, 1) // the enrolment used the current step
	ok := submitStep(b2, e, step, "totp", code)
	c := idTokenAuth(t, e, cfg, verifier, ok.Redirected(t).Get("code"))
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
		t.Fatalf("TOTP sign-in: amr %v acr %q", c.AMR, c.ACR)
	}
	if acc := b2.Get(e.issuer + "/account"); !strings.Contains(acc.Body, "(password and a second factor)") {
		t.Fatalf("account page does not say how the session signed in: %.800s", acc.Body)
	}
	// The same post again (a replay) finishes nothing: its CSRF token went with the sign-in,
	// and with a fresh token the challenge has passed already.
	if again := submitStep(b2, e, step, "totp", code); again.Location != "" || again.Status != http.StatusForbidden {
		t.Fatalf("replayed step post: %d location %q", again.Status, again.Location)
	}
	fresh := b2.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	replay := b2.Post(e.issuer+"/login/mfa", url.Values{"csrf": {fresh}, "c": {step.Hidden().Get("c")}, "method": {"totp"}, "code": {code}})
	if replay.Location != "" || replay.Status != http.StatusConflict {
		t.Fatalf("replayed step post with a fresh csrf token: %d location %q", replay.Status, replay.Location)
	}

	// The same code in another sign-in: refused (each step once).
	b3 := e.browser()
	step3 := mfaStep(t, e, b3, cfg.AuthCodeURL("s", oidc.Nonce("n")))
	if reused := submitStep(b3, e, step3, "totp", code); reused.Status != http.StatusUnauthorized {
		t.Fatalf("reused code: %d", reused.Status)
	}
	// A recovery code works once.
	rc := submitStep(b3, e, step3, "recovery", strings.ToUpper(codes[3]))
	c = idTokenAuth(t, e, cfg, verifier, rc.Redirected(t).Get("code"))
	if !slices.Contains(c.AMR, "mfa") {
		t.Fatalf("recovery code sign-in: amr %v", c.AMR)
	}
	b4 := e.browser()
	step4 := mfaStep(t, e, b4, cfg.AuthCodeURL("s", oidc.Nonce("n")))
	if used := submitStep(b4, e, step4, "recovery", codes[3]); used.Status != http.StatusUnauthorized {
		t.Fatalf("recovery code used twice: %d", used.Status)
	}

	// The audit log has the enrolment and the uses.
	for _, ev := range []string{"mfa.enrolled", "mfa.used", "mfa.failure"} {
		evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: ev})
		if err != nil || len(evs) == 0 {
			t.Fatalf("no %s audit event (%v)", ev, err)
		}
	}
}

// TestMFAStepOutOfOrder: the second-factor step cannot be reached or finished from another
// browser, with a made-up challenge, or without CSRF.
func TestMFAStepOutOfOrder(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	secret, _ := enrolTOTP(t, e, b)

	b2 := e.browser()
	step := mfaStep(t, e, b2, cfg.AuthCodeURL("s", oidc.Nonce("n")))
	f := step.Hidden()
	code := totpCode(t, secret, 1)

	// Another browser with the challenge id (and its own CSRF token) is refused.
	other := e.browser()
	otherCSRF := other.Get(e.issuer + "/login/mfa?c=" + url.QueryEscape(f.Get("c")))
	if otherCSRF.Status != http.StatusForbidden {
		t.Fatalf("challenge opened in another browser: %d", otherCSRF.Status)
	}
	// A made-up challenge.
	if p := b2.Get(e.issuer + "/login/mfa?c=nope"); p.Status != http.StatusBadRequest {
		t.Fatalf("unknown challenge: %d", p.Status)
	}
	// No CSRF token.
	if p := b2.Post(e.issuer+"/login/mfa", url.Values{"c": {f.Get("c")}, "method": {"totp"}, "code": {code}}); p.Status != http.StatusForbidden {
		t.Fatalf("post without csrf: %d", p.Status)
	}
	// "continue" (no factor needed) is refused to a member who has one.
	if p := submitStep(b2, e, step, "continue", ""); p.Status != http.StatusBadRequest || p.Location != "" {
		t.Fatalf("continue without the second factor: %d %q", p.Status, p.Location)
	}
	// The login page with this browser's pending request asks for the password again: no
	// session was opened by the password alone.
	if p := b2.Get(e.issuer + "/login?id=" + url.QueryEscape(stepRequestID(t, e, f.Get("c")))); !strings.Contains(p.Body, `id="password"`) {
		t.Fatalf("login page after the password only: %d %.300s", p.Status, p.Body)
	}
	// The right code finishes it.
	if p := submitStep(b2, e, step, "totp", code); p.Redirected(t).Get("code") == "" {
		t.Fatal("no code after the second factor")
	}
}

// stepRequestID reads the auth request a challenge continues.
func stepRequestID(t *testing.T, e *env, raw string) string {
	t.Helper()
	ch, err := e.store.MFAChallenge(e.ctx(), sso.HashToken("mfa-challenge:"+raw))
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	return ch.AuthRequestID
}

// TestMFARequiredClient: a client with mfa: required gets no code for a password alone; a
// member without a factor enrols first, inside the sign-in.
func TestMFARequiredClient(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "other" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, verifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password") // a password session
	// SSO into the required client: the session lacks a second factor, so the member is sent
	// to enrol (no code is issued).
	p := b.Get(other.AuthCodeURL("s", oidc.Nonce("n")))
	if p.Location != "" || !strings.HasPrefix(p.URL.Path, "/login/mfa") {
		t.Fatalf("required client answered a password session: status %d location %q", p.Status, p.Location)
	}
	// prompt=none cannot step up: interaction_required.
	none := b.Get(other.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "none")))
	if got := none.Redirected(t).Get("error"); got != "interaction_required" {
		t.Fatalf("prompt=none at a required client: %q", got)
	}
	m := totpSecretRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no enrolment on the step page: %.600s", p.Body)
	}
	done := submitStep(b, e, p, "enrol", totpCode(t, m[1], 0))
	if !recoveryCodeRe.MatchString(done.Body) {
		t.Fatalf("no recovery codes after enrolment: %d %.500s", done.Status, done.Body)
	}
	next := regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`).FindStringSubmatch(done.Body)
	if next == nil {
		t.Fatalf("no way on after enrolment: %.500s", done.Body)
	}
	fin := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&"))
	c := idTokenAuth(t, e, other, verifier, fin.Redirected(t).Get("code"))
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
		t.Fatalf("after step-up enrolment: amr %v acr %q", c.AMR, c.ACR)
	}
}

// TestACRValuesStepUp: acr_values asking for MFA steps an existing password session up,
// keeping the session (its sid), and its amr/acr say so.
func TestACRValuesStepUp(t *testing.T) {
	e := newEnv(t)
	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	before, err := e.store.Sessions(e.ctx(), "")
	if err != nil || len(before) != 1 {
		t.Fatalf("sessions: %v %d", err, len(before))
	}
	// alice sets up an authenticator app elsewhere (another browser): this password session
	// has not used it.
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	sub := before[0].Subject
	sealed, err := identity.SealValue(make([]byte, 32), "totp:"+sub, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutTOTP(e.ctx(), &store.TOTPFactor{Subject: sub, SecretSealed: sealed}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmTOTP(e.ctx(), sub, sealed, 0, nil); err != nil {
		t.Fatal(err)
	}
	// Without acr_values the member's opt-in already asks for it; with acr_values too.
	p := b.Get(cfg.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)))
	if p.Location != "" || !strings.HasPrefix(p.URL.Path, "/login/mfa") {
		t.Fatalf("acr_values did not step up: status %d location %q", p.Status, p.Location)
	}
	done := submitStep(b, e, p, "totp", totpCode(t, secret, 0))
	c := idTokenAuth(t, e, cfg, verifier, done.Redirected(t).Get("code"))
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
		t.Fatalf("stepped-up token: amr %v acr %q", c.AMR, c.ACR)
	}
	after, _ := e.store.Sessions(e.ctx(), "")
	if len(after) != 1 || after[0].ID != before[0].ID || !slices.Contains(after[0].AMR, "mfa") {
		t.Fatalf("step-up did not upgrade the same session: %+v", after)
	}
	// Discovery lists the acr values.
	_, disc := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if got := fmtAny(disc["acr_values_supported"]); !strings.Contains(got, sso.ACRMFA) {
		t.Fatalf("acr_values_supported: %s", got)
	}
}

// TestMFARequiredRole: members holding a role of mfa.required_roles enrol at sign-in, for any app.
func TestMFARequiredRole(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.MFA.RequiredRoles = []string{"Staff"} })
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	p := b.Login(b.Get(cfg.AuthCodeURL("s", oidc.Nonce("n"))), "bob", "bob-password")
	if p.Location != "" || !totpSecretRe.MatchString(p.Body) {
		t.Fatalf("staff member signed in without enrolling: status %d location %q: %.900s", p.Status, p.Location, p.Body)
	}
	// alice (no such role) goes straight through.
	if code := e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"); code == "" {
		t.Fatal("alice got no code")
	}
}

// TestPasswordGrantRefusesMFAMembers: the password grant cannot ask for a second factor, so a
// member who has one (or a client that requires one) gets invalid_grant, not tokens.
func TestPasswordGrantRefusesMFAMembers(t *testing.T) {
	e := grantEnv(t)
	pw := func() (int, map[string]any) {
		resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "alice",
			"password": "alice-password", "scope": "openid"}, "legacy", legacySecret)
		return resp.StatusCode, body
	}
	if status, body := pw(); status != http.StatusOK {
		t.Fatalf("password grant before enrolment: %d %v", status, body)
	}
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	enrolTOTP(t, e, b)
	status, body := pw()
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || !strings.Contains(fmtAny(body["error_description"]), "second factor") {
		t.Fatalf("password grant of a member with a second factor: %d %v", status, body)
	}
}

// TestAdminMFAResetNotice: the admin API resets a member's factors; the member's next sign-in
// says so (once: until a sign-in goes on past it and opens a session, each sign-in says so)
// and the password alone signs them in again.
func TestAdminMFAResetNotice(t *testing.T) {
	e, adm := adminEnv(t)
	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	enrolTOTP(t, e, b)

	if status, _, m := adm.do(http.MethodPost, "/admin/mfa/reset", adminToken, map[string]string{"client": "web"}); status != http.StatusBadRequest {
		t.Fatalf("reset by client: %d %v", status, m)
	}
	if got := adm.ok(http.MethodPost, "/admin/mfa/reset", map[string]string{"login": "alice"}); fmtAny(got["reset"]) != "1" {
		t.Fatalf("reset answer: %v", got)
	}
	// The member leaves the first sign-in at the notice: no session was opened, so the next
	// sign-in tells them again.
	left := mfaStep(t, e, e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")))
	if !strings.Contains(left.Body, `id="mfa-reset-notice"`) {
		t.Fatalf("no reset notice: %.800s", left.Body)
	}
	b2 := e.browser()
	step := b2.Login(b2.Get(cfg.AuthCodeURL("s", oidc.Nonce("n"))), "alice", "alice-password")
	if !strings.HasPrefix(step.URL.Path, "/login/mfa") {
		t.Fatalf("a sign-in abandoned at the reset notice used it up: the next sign-in went to %s (%d) without it", step.URL, step.Status)
	}
	if !strings.Contains(step.Body, `id="mfa-reset-notice"`) || !strings.Contains(step.Body, `id="mfa-continue"`) {
		t.Fatalf("no reset notice with a way on: %.800s", step.Body)
	}
	c := idTokenAuth(t, e, cfg, verifier, submitStep(b2, e, step, "continue", "").Redirected(t).Get("code"))
	if !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("after the reset: amr %v", c.AMR)
	}
	// Told once: the next sign-in goes straight through.
	if code := e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"); code == "" {
		t.Fatal("no code on the sign-in after the notice")
	}
	evs, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "mfa.reset"})
	if len(evs) != 1 {
		t.Fatalf("mfa.reset audit rows: %d", len(evs))
	}
}

// TestSecurityPageStepUp: a session that has not used the member's second factor changes
// nothing on the security page: a removal is sent to the second-factor step first, and after
// it the member is back on the page with the factor still there, then removes it.
func TestSecurityPageStepUp(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	sessions, err := e.store.Sessions(e.ctx(), "")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %d", err, len(sessions))
	}
	// alice set up an authenticator app in another browser; this session has not used it.
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	sub := sessions[0].Subject
	sealed, err := identity.SealValue(make([]byte, 32), "totp:"+sub, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutTOTP(e.ctx(), &store.TOTPFactor{Subject: sub, SecretSealed: sealed}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmTOTP(e.ctx(), sub, sealed, 0, nil); err != nil {
		t.Fatal(err)
	}
	sec := b.Get(e.issuer + "/account/security")
	if !strings.Contains(sec.Body, `id="security-stepup"`) || strings.Contains(sec.Body, `id="totp-remove"`) {
		t.Fatalf("security page offers changes to a session without the second factor: %.600s", sec.Body)
	}
	step := b.Post(e.issuer+"/account/security", url.Values{"csrf": {sec.Hidden().Get("csrf")}, "action": {"totp-remove"}})
	if !strings.HasPrefix(step.URL.Path, "/login/mfa") {
		t.Fatalf("removal without the second factor went to %s (%d)", step.URL, step.Status)
	}
	if f, err := e.store.TOTP(e.ctx(), sub); err != nil || !f.Confirmed {
		t.Fatalf("the factor was removed without a step-up: %v", err)
	}
	back := submitStep(b, e, step, "totp", totpCode(t, secret, 0))
	if back.URL.Path != "/account/security" || !strings.Contains(back.Body, `id="totp-remove"`) {
		t.Fatalf("after the step-up: %s (%d): %.500s", back.URL, back.Status, back.Body)
	}
	gone := b.Post(e.issuer+"/account/security", url.Values{"csrf": {back.Hidden().Get("csrf")}, "action": {"totp-remove"}})
	if !strings.Contains(gone.Body, "were removed") {
		t.Fatalf("removal after the step-up: %d %.500s", gone.Status, gone.Body)
	}
	if _, err := e.store.TOTP(e.ctx(), sub); err == nil {
		t.Fatal("the factor is still there")
	}
	if evs, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.step_up"}); len(evs) != 1 {
		t.Fatalf("login.step_up audit rows: %d", len(evs))
	}
}
