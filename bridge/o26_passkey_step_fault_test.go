package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/web/mfa"
)

// Session 26 (O), after review s25 Y-9 (which mended the passkey sign-in): at the second-factor
// step, a store fault while the passkey's answer is checked (the ceremony taken, the member's
// passkeys read, the sign count written) is the server's fault: a 5xx, no mfa.failure row
// counted against the member, the step not ended, so the member's next try with the same
// passkey passes. Taking the ceremony's fault was "This sign-in step had expired" (400).
func TestO26PasskeyStepStoreFaultIsAServerFault(t *testing.T) {
	faults := &o26Faults{}
	ws := newWrappedSQLite(t, func(s *sqlite.Store) store.Store { return o26FaultStore{Store: s, faults: faults} })
	e := newEnvDeps(t, false, nil, envDeps{store: ws.open}, localhostIssuer)
	st := ws.st
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	ctx := t.Context()
	e.signIn(e.browser(), web.AuthCodeURL("s0"), "alice", "alice-password")
	all, err := st.Sessions(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("sessions after the password sign-in: %v %v", all, err)
	}
	subject := all[0].Subject
	handle, err := st.MFAUserHandle(ctx, subject, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	key := bridgetest.NewPasskey(t, handle)
	if err := st.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: key.ID(), Subject: subject, Name: "soft",
		Data: key.Credential(t), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	post := func(b *bridgetest.Browser, path string, form url.Values) (int, map[string]any) {
		t.Helper()
		p := b.Post(e.issuer+path, form)
		var m map[string]any
		_ = json.Unmarshal([]byte(p.Body), &m)
		return p.Status, m
	}
	// try begins a passkey ceremony at the step and answers it, with the store failing methods
	// while the answer is checked.
	try := func(b *bridgetest.Browser, step url.Values, methods ...string) (int, map[string]any) {
		t.Helper()
		status, begun := post(b, mfa.PathPasskeyStepBegin, step)
		opts, _ := begun["options"].(map[string]any)
		pk, _ := opts["publicKey"].(map[string]any)
		challenge, _ := pk["challenge"].(string)
		rpID, _ := pk["rpId"].(string)
		ceremony, _ := begun["ceremony"].(string)
		if status != http.StatusOK || ceremony == "" || challenge == "" {
			t.Fatalf("step passkey begin: %d %v", status, begun)
		}
		f := url.Values{"ceremony": {ceremony}, "credential": {string(key.Assert(t, rpID, e.issuer, challenge))}}
		for k, v := range step {
			f[k] = v
		}
		faults.set(errO26Locked, methods...)
		defer faults.set(nil)
		return post(b, mfa.PathPasskeyStepFinish, f)
	}
	for _, tc := range []struct {
		name    string
		methods []string
	}{
		{"ceremony taken", []string{"PassMFAChallenge"}},
		{"passkeys read", []string{"WebAuthnCredentials"}},
		{"sign count written", []string{"UseWebAuthnCredential"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := st.AuditEvents(ctx, store.AuditFilter{Event: "mfa.failure"})
			if err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			p := b.Login(b.Get(web.AuthCodeURL("s1")), "alice", "alice-password")
			var csrf string
			if m := regexp.MustCompile(`id="passkey-step" data-challenge="[^"]*" data-csrf="([^"]+)"`).FindStringSubmatch(p.Body); m != nil {
				csrf = m[1]
			}
			step := url.Values{"csrf": {csrf}, "c": {p.URL.Query().Get("c")}}
			if p.URL.Path != mfa.PathStep || step.Get("c") == "" || step.Get("csrf") == "" {
				t.Fatalf("password did not lead to the second-factor step: %d at %s: %.300s", p.Status, p.URL, p.Body)
			}
			status, body := try(b, step, tc.methods...)
			if status < 500 {
				t.Fatalf("passkey step with a store fault at %s: %d %v, want a 5xx (a server fault, not the member's)", tc.name, status, body)
			}
			after, err := st.AuditEvents(ctx, store.AuditFilter{Event: "mfa.failure"})
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Fatalf("store fault at %s counted as a failed factor: %+v", tc.name, after[:len(after)-len(before)])
			}
			// The step is still there: the member's next try passes.
			if status, body := try(b, step); status != http.StatusOK || body["next"] == nil {
				t.Fatalf("passkey step after the fault at %s: %d %v, want it passed", tc.name, status, body)
			}
		})
	}
}
