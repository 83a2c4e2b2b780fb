package bridge_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Messages of an enrolment's invitation code (bridge/web/mfa).
const (
	inviteMissing = "Type the invitation code the association gave you"
	inviteRefused = "That invitation code cannot be used"
)

// invitationFirst sets mfa.first_enrolment: invitation.
func invitationFirst(c *bridge.Config) { c.MFA.FirstEnrolment = config.FirstEnrolmentInvitation }

// otherRequiresMFA makes the "other" client require a second factor.
func otherRequiresMFA(c *bridge.Config) {
	for i := range c.Clients {
		if c.Clients[i].ID == "other" {
			c.Clients[i].MFA = "required"
		}
	}
}

// issueInvite issues an invitation for login as an administrator does and returns its code.
func issueInvite(t *testing.T, e *env, login string) string {
	t.Helper()
	inv, err := e.bridge.Admin().IssueInvite(e.ctx(), "test", admin.Filter{Login: login})
	if err != nil {
		t.Fatalf("issue invitation for %s: %v", login, err)
	}
	return inv.Code
}

// issueExpiredInvite issues an invitation for login that expired an hour ago.
func issueExpiredInvite(t *testing.T, e *env, login string) string {
	t.Helper()
	past := &mfa.Service{Store: e.store, Audit: func(context.Context, *store.AuditEvent) {},
		Now: func() time.Time { return time.Now().Add(-mfa.DefaultInviteLifetime - time.Hour) }}
	code, _, err := past.IssueInvite(e.ctx(), identitySubject(t, e, mustMember(t, e, login).Key), "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func auditCount(t *testing.T, e *env, event string) int {
	t.Helper()
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: event})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestFirstEnrolmentInvitationStep (review s12 W9): with mfa.first_enrolment: invitation, a
// member without a factor whom an app requires one of enrols an authenticator app at the
// sign-in step only with their own valid invitation code, typed with the first code: without
// one, with a wrong one, another member's, an expired one, or one used already, nothing is
// enrolled and the page says the same for all but the missing one; the good one enrols once
// (a replayed form is refused), and the app gets pwd+otp+mfa.
func TestFirstEnrolmentInvitationStep(t *testing.T) {
	e := newEnv(t, invitationFirst, otherRequiresMFA)
	other, verifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	// bob's subject is remembered at his first sign-in: issue his invitation after it.
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(e.browser(), web.AuthCodeURL("b"), "bob", "bob-password")
	b := e.browser()
	step := mfaStep(t, e, b, other.AuthCodeURL("s", oidc.Nonce("n")))
	m := totpSecretRe.FindStringSubmatch(step.Body)
	if m == nil || !strings.Contains(step.Body, `name="invite"`) {
		t.Fatalf("the step offers no enrolment with an invitation code: %.800s", step.Body)
	}
	enrol := func(invite string) *bridgetest.Page {
		f := step.Hidden()
		return b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"enrol"},
			"code": {totpCode(t, m[1], 0)}, "invite": {invite}})
	}
	bobs := issueInvite(t, e, "bob")
	expired := issueExpiredInvite(t, e, "alice")
	for _, c := range []struct {
		name, invite string
		status       int
		says         string
	}{
		{"no code", "", http.StatusBadRequest, inviteMissing},
		{"a wrong code", "aaaaa-bbbbb-ccccc-ddddd", http.StatusUnauthorized, inviteRefused},
		{"another member's code", bobs, http.StatusUnauthorized, inviteRefused},
		{"an expired code", expired, http.StatusUnauthorized, inviteRefused},
	} {
		p := enrol(c.invite)
		if p.Status != c.status || !strings.Contains(p.Body, c.says) || recoveryCodeRe.MatchString(p.Body) {
			t.Fatalf("%s: %d %.600s", c.name, p.Status, p.Body)
		}
		noConfirmedTOTP(t, e, "alice", c.name)
	}
	if n := auditCount(t, e, "mfa.invite_refused"); n != 3 {
		t.Fatalf("%d mfa.invite_refused rows, want 3 (wrong, another member's, expired)", n)
	}

	code := issueInvite(t, e, "alice")
	done := enrol(strings.ToUpper(code)) // typed in capitals: the same code
	next := continueRe.FindStringSubmatch(done.Body)
	if done.Status != http.StatusOK || !recoveryCodeRe.MatchString(done.Body) || next == nil {
		t.Fatalf("enrolment with the invitation: %d %.600s", done.Status, done.Body)
	}
	if again := enrol(code); again.Status != http.StatusConflict {
		t.Fatalf("the enrolment form replayed: %d", again.Status)
	}
	fin := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&"))
	if c := idTokenAuth(t, e, other, verifier, fin.Redirected(t).Get("code")); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("after the invited enrolment: amr %v", c.AMR)
	}
	if n := auditCount(t, e, "mfa.invite_used"); n != 1 {
		t.Fatalf("%d mfa.invite_used rows, want 1", n)
	}

	// The code was used: after an administrator's reset, it enrols nothing again.
	if _, err := e.bridge.Admin().ResetFactors(e.ctx(), "test", admin.Filter{Login: "alice"}); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	step = mfaStep(t, e, b, other.AuthCodeURL("s2", oidc.Nonce("n")))
	if m = totpSecretRe.FindStringSubmatch(step.Body); m == nil {
		t.Fatalf("no enrolment after the reset: %.600s", step.Body)
	}
	if p := enrol(code); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, inviteRefused) {
		t.Fatalf("a used code: %d %.600s", p.Status, p.Body)
	}
	noConfirmedTOTP(t, e, "alice", "a used code")
}

// TestFirstEnrolmentInvitationSecurityPage: on the security page, with
// mfa.first_enrolment: invitation, a member's first authenticator app needs their invitation
// code with the confirmation code, and a first passkey's registration is not begun without one;
// with a factor, a second one needs no code. With the default (open), no code is asked.
func TestFirstEnrolmentInvitationSecurityPage(t *testing.T) {
	t.Run("invitation", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// localhost: passkeys (WebAuthn) need a domain; still 127.0.0.1 only.
		e := newEnvAt(t, ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), false, nil, envDeps{}, invitationFirst)
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
		sec := b.Get(e.issuer + "/account/security")
		csrf := sec.Hidden().Get("csrf")
		if !strings.Contains(sec.Body, `id="passkey-invite"`) {
			t.Fatalf("the security page asks no invitation code for a first passkey: %.800s", sec.Body)
		}
		pk := b.Post(e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {csrf}})
		var ans map[string]any
		_ = json.Unmarshal([]byte(pk.Body), &ans)
		if pk.Status != http.StatusBadRequest || !strings.Contains(pk.Body, inviteMissing) || ans["ceremony"] != nil {
			t.Fatalf("a first passkey begun without a code: %d %.300s", pk.Status, pk.Body)
		}
		begun := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
		m := totpSecretRe.FindStringSubmatch(begun.Body)
		if m == nil || !strings.Contains(begun.Body, `name="invite"`) {
			t.Fatalf("enrolment page without an invitation field: %.800s", begun.Body)
		}
		confirm := func(invite string) *bridgetest.Page {
			return b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
				"code": {totpCode(t, m[1], 0)}, "invite": {invite}})
		}
		for _, c := range []struct {
			name, invite string
			status       int
			says         string
		}{
			{"no code", "", http.StatusBadRequest, inviteMissing},
			{"a wrong code", "aaaaa-bbbbb-ccccc-ddddd", http.StatusUnauthorized, inviteRefused},
			{"an expired code", issueExpiredInvite(t, e, "alice"), http.StatusUnauthorized, inviteRefused},
		} {
			p := confirm(c.invite)
			if p.Status != c.status || !strings.Contains(p.Body, c.says) || !totpSecretRe.MatchString(p.Body) {
				t.Fatalf("%s: %d (want %d, the enrolment shown again) %.600s", c.name, p.Status, c.status, p.Body)
			}
			noConfirmedTOTP(t, e, "alice", c.name)
		}
		code := issueInvite(t, e, "alice")
		if p := b.Post(e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {csrf}, "invite": {code}}); p.Status != http.StatusOK {
			t.Fatalf("a first passkey begun with a code: %d %.300s", p.Status, p.Body)
		}
		done := confirm(code)
		if done.Status != http.StatusOK || len(recoveryCodeRe.FindAllString(done.Body, -1)) != 10 {
			t.Fatalf("enrolment with the invitation: %d %.600s", done.Status, done.Body)
		}
		// A second factor needs no code: the session used the first.
		after := b.Get(e.issuer + "/account/security")
		if strings.Contains(after.Body, `id="passkey-invite"`) {
			t.Fatal("a member with a factor is asked an invitation code")
		}
		if p := b.Post(e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {after.Hidden().Get("csrf")}}); p.Status != http.StatusOK {
			t.Fatalf("a second factor's passkey begun without a code: %d %.300s", p.Status, p.Body)
		}
	})
	t.Run("open", func(t *testing.T) {
		e := newEnv(t)
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
		csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
		begun := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
		if strings.Contains(begun.Body, `name="invite"`) {
			t.Fatal("mfa.first_enrolment open asks an invitation code")
		}
		enrolTOTP(t, e, b)
	})
}

// noConfirmedTOTP fails t when login has a confirmed authenticator app.
func noConfirmedTOTP(t *testing.T, e *env, login, what string) {
	t.Helper()
	f, err := e.store.TOTP(context.Background(), identitySubject(t, e, mustMember(t, e, login).Key))
	if err == nil && f.Confirmed {
		t.Fatalf("%s: an authenticator app was confirmed", what)
	}
	if err != nil && !strings.Contains(err.Error(), sso.ErrNotFound.Error()) {
		t.Fatal(err)
	}
}

// TestAdminIssueInviteAPI: POST /admin/mfa/invite issues a member's invitation (by login or
// subject) and shows its code this once; the call needs the admin token, names a member, and
// is audited without the code. The code enrols the member's first factor.
func TestAdminIssueInviteAPI(t *testing.T) {
	e, api := adminEnv(t, invitationFirst)
	if status, _, _ := api.do(http.MethodPost, "/admin/mfa/invite", "", map[string]string{"login": "alice"}); status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", status)
	}
	if status, _, m := api.do(http.MethodPost, "/admin/mfa/invite", adminToken, map[string]string{}); status != http.StatusBadRequest {
		t.Fatalf("naming nobody: %d %v", status, m)
	}
	inv := api.ok(http.MethodPost, "/admin/mfa/invite", map[string]string{"login": "alice"})
	code, _ := inv["code"].(string)
	if !inviteCodeRe.MatchString(code) || inv["subject"] == "" || inv["expires_at"] == nil {
		t.Fatalf("invitation: %v", inv)
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.mfa_invite"})
	if err != nil || len(evs) != 1 || evs[0].Subject != inv["subject"] || strings.Contains(evs[0].Detail, code) ||
		!strings.Contains(evs[0].Detail, "admin-api@") {
		t.Fatalf("admin.mfa_invite audit rows: %v %+v", err, evs)
	}
	b := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	m := totpSecretRe.FindStringSubmatch(b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}}).Body)
	if m == nil {
		t.Fatal("no enrolment")
	}
	done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
		"code": {totpCode(t, m[1], 0)}, "invite": {code}})
	if done.Status != http.StatusOK || !recoveryCodeRe.MatchString(done.Body) {
		t.Fatalf("enrolment with the API's code: %d %.400s", done.Status, done.Body)
	}
}

var inviteCodeRe = regexp.MustCompile(`^[a-z0-9]{5}(-[a-z0-9]{5}){3}$`)

// TestFirstEnrolmentInvitationStepUp: a step-up of a password session (acr_values=mfa) where
// the member has no factor enrols one at the step only with their invitation code; a wrong
// authenticator code with the right invitation leaves the invitation unused (it is used with
// the factor, not before), and the session is upgraded, once.
func TestFirstEnrolmentInvitationStepUp(t *testing.T) {
	e := newEnv(t, invitationFirst)
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	before, err := e.store.Sessions(e.ctx(), "")
	if err != nil || len(before) != 1 {
		t.Fatalf("sessions: %v %d", err, len(before))
	}
	step := b.Get(web.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)))
	m := totpSecretRe.FindStringSubmatch(step.Body)
	if !strings.HasPrefix(step.URL.Path, "/login/mfa") || m == nil || !strings.Contains(step.Body, `name="invite"`) {
		t.Fatalf("the step-up offers no enrolment with an invitation code: %d %s %.600s", step.Status, step.URL, step.Body)
	}
	enrol := func(code, invite string) *bridgetest.Page {
		f := step.Hidden()
		return b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"enrol"},
			"code": {code}, "invite": {invite}})
	}
	invite := issueInvite(t, e, "alice")
	if p := enrol("000000", invite); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "not right") {
		t.Fatalf("a wrong authenticator code: %d %.400s", p.Status, p.Body)
	}
	if p := enrol(totpCode(t, m[1], 0), ""); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, inviteMissing) {
		t.Fatalf("no invitation: %d %.400s", p.Status, p.Body)
	}
	noConfirmedTOTP(t, e, "alice", "before the invitation")
	done := enrol(totpCode(t, m[1], 0), invite)
	next := continueRe.FindStringSubmatch(done.Body)
	if done.Status != http.StatusOK || next == nil {
		t.Fatalf("the invitation after a wrong authenticator code: %d %.400s", done.Status, done.Body)
	}
	fin := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&"))
	if c := idTokenAuth(t, e, web, verifier, fin.Redirected(t).Get("code")); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("stepped-up token: amr %v", c.AMR)
	}
	after, _ := e.store.Sessions(e.ctx(), "")
	if len(after) != 1 || after[0].ID != before[0].ID || !slices.Contains(after[0].AMR, "mfa") {
		t.Fatalf("the step-up did not upgrade the same session: %+v", after)
	}
	if again := enrol(totpCode(t, m[1], 1), invite); again.Status != http.StatusConflict {
		t.Fatalf("the step's enrolment replayed: %d", again.Status)
	}
}

// TestFirstEnrolmentInvitationDevice: a device approval for an app that requires a second
// factor, by a member with none, enrols one at the step only with their invitation code, then
// goes on to the device's confirmation.
func TestFirstEnrolmentInvitationDevice(t *testing.T) {
	e := grantEnv(t, invitationFirst, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "tv" {
				c.Clients[i].MFA = "required"
			}
		}
	})
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	b := e.browser()
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(da.UserCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	step := b.Login(p, "alice", "alice-password")
	m := totpSecretRe.FindStringSubmatch(step.Body)
	if step.URL.Path != "/login/mfa" || m == nil || !strings.Contains(step.Body, `name="invite"`) {
		t.Fatalf("the device approval's step offers no enrolment with an invitation code: %d %s %.600s", step.Status, step.URL, step.Body)
	}
	enrol := func(invite string) *bridgetest.Page {
		f := step.Hidden()
		return b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"enrol"},
			"code": {totpCode(t, m[1], 0)}, "invite": {invite}})
	}
	if p := enrol(""); p.Status != http.StatusBadRequest {
		t.Fatalf("no invitation: %d", p.Status)
	}
	if p := enrol("aaaaa-bbbbb-ccccc-ddddd"); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, inviteRefused) {
		t.Fatalf("a wrong invitation: %d", p.Status)
	}
	noConfirmedTOTP(t, e, "alice", "device, refused")
	done := enrol(issueInvite(t, e, "alice"))
	next := continueRe.FindStringSubmatch(done.Body)
	if done.Status != http.StatusOK || next == nil {
		t.Fatalf("enrolment with the invitation: %d %.400s", done.Status, done.Body)
	}
	if c := b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")); !strings.Contains(c.Body, "on a device?") {
		t.Fatalf("after the enrolment, no device confirmation: %d %s %.400s", c.Status, c.URL, c.Body)
	}
}

// TestFirstEnrolmentInvitationHandoff: with mfa.first_enrolment: invitation, a member the AMS
// asks a factor of keeps their rule: no enrolment after the password alone (code or not), and
// after the AMS website's hand-off, where the AMS checked its own factor, one without a code.
func TestFirstEnrolmentInvitationHandoff(t *testing.T) {
	e := newEnvWith(t, true, invitationFirst)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	amsFactor(e, "bob", true)
	b := e.browser()
	refusedToEnrol(t, b.Login(b.Get(web.AuthCodeURL("p", oidc.Nonce("n"))), "bob", "bob-password"), "the password alone")
	b = e.browser()
	ho := handoffAs(t, e, b, web.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", sso.ACRMFA)), "bob", "bob-password")
	if ho.URL.Path != "/login/mfa" || strings.Contains(ho.Body, `name="invite"`) {
		t.Fatalf("the hand-off's step: %d %s %.600s", ho.Status, ho.URL, ho.Body)
	}
	done, _ := enrolHere(t, e, b, ho)
	if done.Status != http.StatusOK || !recoveryCodeRe.MatchString(done.Body) {
		t.Fatalf("the hand-off's enrolment without a code: %d %.400s", done.Status, done.Body)
	}
}
