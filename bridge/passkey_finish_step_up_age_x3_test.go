package bridge_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestX3PasskeyFinishAfterStepUpAged (review s21 X3-1): a passkey registration begun while the
// session's step-up was recent, finished after it aged past mfa.step_up_max_age (the ceremony
// lives 10 minutes more), is refused like every other factor change. The finish does not ask
// steppedUp: the passkey is stored.
func TestX3PasskeyFinishAfterStepUpAged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvAt(t, ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), false, nil, envDeps{})
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	b := e.browser()
	e.signIn(b, cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	enrolTOTP(t, e, b) // a factor, proved in this session just now
	subject := identitySubject(t, e, mustMember(t, e, "alice").Key)
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	post := func(path string, form url.Values) (int, map[string]any) {
		t.Helper()
		p := b.Post(e.issuer+path, form)
		var m map[string]any
		if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
			t.Fatalf("%s answered %d, not JSON: %.300s", path, p.Status, p.Body)
		}
		return p.Status, m
	}
	status, begun := post("/account/security/passkey/begin", url.Values{"csrf": {csrf}})
	opts, _ := begun["options"].(map[string]any)
	pk, _ := opts["publicKey"].(map[string]any)
	rp, _ := pk["rp"].(map[string]any)
	challenge, _ := pk["challenge"].(string)
	rpID, _ := rp["id"].(string)
	ceremony, _ := begun["ceremony"].(string)
	if status != http.StatusOK || ceremony == "" || challenge == "" {
		t.Fatalf("begin with a fresh step-up: %d %v", status, begun)
	}
	credential := string(bridgetest.NewPasskey(t, nil).Register(t, rpID, e.issuer, challenge))

	ageStepUp(t, e, "alice")
	status, done := post("/account/security/passkey/finish", url.Values{"csrf": {csrf}, "ceremony": {ceremony},
		"credential": {credential}, "name": {"Laptop"}})
	l, err := e.store.WebAuthnCredentials(e.ctx(), subject)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden || len(l) != 0 {
		t.Fatalf("passkey finish after the step-up aged: %d %v, %d passkeys stored; want 403 and none", status, done, len(l))
	}
}
