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

// TestPasskeyRegisterFinishKeepsCeremony (closing s19 R3-7): with mfa.first_enrolment:
// invitation, a first passkey's finish (bridgetest.Passkey, no browser) that lacks the
// invitation code, or whose code cannot be used, is refused before its ceremony is passed:
// the same passkey answer, sent again with the right code, is stored. Before, the refused
// finish used the ceremony up and the right one was told the step had expired. Nothing is
// stored by a refusal; the wrong and the expired codes are audited and counted; the finish
// that worked is not accepted again.
func TestPasskeyRegisterFinishKeepsCeremony(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// localhost: passkeys (WebAuthn) need a domain; still 127.0.0.1 only.
	e := newEnvAt(t, ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), false, nil, envDeps{}, invitationFirst)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	code := issueInvite(t, e, "alice")

	post := func(path string, form url.Values) (int, map[string]any) {
		t.Helper()
		p := b.Post(e.issuer+path, form)
		var m map[string]any
		if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
			t.Fatalf("%s answered %d, not JSON: %.300s", path, p.Status, p.Body)
		}
		return p.Status, m
	}
	status, begun := post("/account/security/passkey/begin", url.Values{"csrf": {csrf}, "invite": {code}})
	opts, _ := begun["options"].(map[string]any)
	pk, _ := opts["publicKey"].(map[string]any)
	rp, _ := pk["rp"].(map[string]any)
	challenge, _ := pk["challenge"].(string)
	rpID, _ := rp["id"].(string)
	ceremony, _ := begun["ceremony"].(string)
	if status != http.StatusOK || ceremony == "" || challenge == "" || rpID != "localhost" {
		t.Fatalf("begin: %d %v", status, begun)
	}
	credential := string(bridgetest.NewPasskey(t, nil).Register(t, rpID, e.issuer, challenge))
	finish := func(invite string) (int, map[string]any) {
		t.Helper()
		return post("/account/security/passkey/finish", url.Values{"csrf": {csrf}, "ceremony": {ceremony},
			"credential": {credential}, "name": {"Laptop"}, "invite": {invite}})
	}
	passkeys := func() int {
		t.Helper()
		l, err := e.store.WebAuthnCredentials(e.ctx(), subject)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	refusedBefore := auditCount(t, e, "mfa.invite_refused")
	for _, c := range []struct {
		name, invite string
		status       int
		says         string
	}{
		{"no code", "", http.StatusBadRequest, inviteMissing},
		{"a wrong code", "aaaaa-bbbbb-ccccc-ddddd", http.StatusUnauthorized, inviteRefused},
		{"an expired code", issueExpiredInvite(t, e, "alice"), http.StatusUnauthorized, inviteRefused},
	} {
		status, body := finish(c.invite)
		if msg, _ := body["error"].(string); status != c.status || !strings.Contains(msg, c.says) || body["next"] != nil {
			t.Fatalf("finish with %s: %d %v, want %d saying %q", c.name, status, body, c.status, c.says)
		}
		// What static/passkeys.js reads (brief s21 Q2 item 4): the ceremony is kept, so the page
		// sends the same answer again instead of making another passkey; "invite" when the
		// code is what is missing.
		if body["kept"] != true || (body["invite"] == true) != (c.invite == "") {
			t.Fatalf("finish with %s: %v, want kept true and invite %v", c.name, body, c.invite == "")
		}
		if n := passkeys(); n != 0 {
			t.Fatalf("finish with %s: %d passkeys stored", c.name, n)
		}
	}
	if n := auditCount(t, e, "mfa.invite_refused") - refusedBefore; n != 2 {
		t.Fatalf("mfa.invite_refused rows for the wrong and the expired codes: %d, want 2", n)
	}
	code = issueInvite(t, e, "alice") // the expired one issued above voided the first
	status, body := finish(code)
	if status != http.StatusOK || !strings.Contains(body["next"].(string), "passkey-added") {
		t.Fatalf("the same answer with the right code after the refusals: %d %v", status, body)
	}
	if n := passkeys(); n != 1 {
		t.Fatalf("%d passkeys after the finish, want 1", n)
	}
	status, body = finish(code)
	if msg, _ := body["error"].(string); status != http.StatusBadRequest || !strings.Contains(msg, "expired") || body["kept"] != nil {
		t.Fatalf("the finish replayed: %d %v (not kept: the page begins again)", status, body)
	}
	if n := passkeys(); n != 1 {
		t.Fatalf("%d passkeys after the replay, want 1", n)
	}
}
