package bridge_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestFirstEnrolmentInvitationPasskeyBeginChecksCode (brief M3 1): with
// mfa.first_enrolment: invitation, a first passkey's registration is not begun with an
// invitation code its finish would refuse (wrong, another member's, expired, voided by a newer
// one), so that the authenticator makes no passkey the bridge will not keep; each refusal
// is audited and counted with the member's wrong second-factor codes, so that the begin step
// guesses no faster than the finish (the right code is refused once they are spent). The right
// code is read, not used: it begins twice and then enrols an authenticator app.
func TestFirstEnrolmentInvitationPasskeyBeginChecksCode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// localhost: passkeys (WebAuthn) need a domain; still 127.0.0.1 only.
	e := newEnvAt(t, ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), false, nil, envDeps{}, invitationFirst)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	bobBrowser := e.browser()
	e.signIn(bobBrowser, web.AuthCodeURL("b", oidc.Nonce("n")), "bob", "bob-password")
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	begin := func(b *bridgetest.Browser, csrf, invite string) (*bridgetest.Page, bool) {
		p := b.Post(e.issuer+"/account/security/passkey/begin", url.Values{"csrf": {csrf}, "invite": {invite}})
		var ans map[string]any
		_ = json.Unmarshal([]byte(p.Body), &ans)
		return p, ans["ceremony"] != nil
	}

	voided := issueInvite(t, e, "alice")
	bobs := issueInvite(t, e, "bob")
	expired := issueExpiredInvite(t, e, "alice") // voids voided
	refusedBefore := auditCount(t, e, "mfa.invite_refused")
	cases := []struct{ name, invite string }{
		{"a wrong code", "aaaaa-bbbbb-ccccc-ddddd"},
		{"another member's code", bobs},
		{"an expired code", expired},
		{"a code voided by a newer one", voided},
	}
	for _, c := range cases {
		if p, begun := begin(b, csrf, c.invite); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, inviteRefused) || begun {
			t.Fatalf("%s: %d %.300s; want 401, no ceremony", c.name, p.Status, p.Body)
		}
	}
	if n := auditCount(t, e, "mfa.invite_refused") - refusedBefore; n != len(cases) {
		t.Fatalf("%d mfa.invite_refused rows, want %d", n, len(cases))
	}
	code := issueInvite(t, e, "alice")
	// The right code, typed loosely, is read and not used: twice, and then it enrols.
	for i := range 2 {
		loose := " " + strings.ToUpper(strings.ReplaceAll(code, "-", " ")) + " "
		if p, begun := begin(b, csrf, loose); p.Status != http.StatusOK || !begun {
			t.Fatalf("the right code, begin %d: %d %.300s", i+1, p.Status, p.Body)
		}
	}
	enrolled := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	m := totpSecretRe.FindStringSubmatch(enrolled.Body)
	if m == nil {
		t.Fatalf("no enrolment: %.600s", enrolled.Body)
	}
	done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
		"code": {totpCode(t, m[1], 0)}, "invite": {code}})
	if done.Status != http.StatusOK || len(recoveryCodeRe.FindAllString(done.Body, -1)) != 10 {
		t.Fatalf("enrolment with the code the begin steps read: %d %.600s", done.Status, done.Body)
	}
	// bob's guesses at the begin step are throttled, and then his right code is refused too.
	bobCSRF := bobBrowser.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	throttled := false
	for i := range 30 {
		p, begun := begin(bobBrowser, bobCSRF, "zzzzz-zzzzz-zzzzz-zzzz"+strconv.Itoa(i%10))
		if begun {
			t.Fatalf("guess %d begun", i)
		}
		if p.Status == http.StatusTooManyRequests {
			throttled = true
			break
		}
		if p.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %.300s", i, p.Status, p.Body)
		}
	}
	if !throttled {
		t.Fatal("30 wrong codes at the begin step, none throttled")
	}
	bobs = issueInvite(t, e, "bob")
	if p, begun := begin(bobBrowser, bobCSRF, bobs); p.Status != http.StatusTooManyRequests || begun {
		t.Fatalf("the right code once throttled: %d %.300s", p.Status, p.Body)
	}
}
