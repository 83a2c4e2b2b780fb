package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestDeviceCodeEnteredByTwoMembers (review s19 X, RFC 8628 3.3 and 5.4): one user code
// entered by two members in two browsers (a code read off a shared screen, or phished): both
// reach the device confirmation, the first to allow wins, and whatever the second does then
// (allow, or deny) changes nothing. The device is signed in as the first member, once; the
// second member's answer gets the "expired" page, and only one approval is audited.
func TestDeviceCodeEnteredByTwoMembers(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oidc.NewVerifier(e.issuer, oidc.NewRemoteKeySet(e.ctx(), e.issuer+"/keys"), &oidc.Config{ClientID: "tv"})
	// toConfirmation takes a browser from the user code to the device confirmation as login.
	toConfirmation := func(t *testing.T, code, login, password string) (*bridgetest.Browser, url.Values) {
		t.Helper()
		b := e.browser()
		p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(code))
		p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {code}})
		p = b.Login(p, login, password)
		if p.URL.Path != "/consent" || !strings.Contains(p.Body, "on a device?") {
			t.Fatalf("%s: want the device confirmation, got %s %d %.400s", login, p.URL, p.Status, p.Body)
		}
		return b, p.Hidden()
	}
	answer := func(b *bridgetest.Browser, f url.Values, decision string) *bridgetest.Page {
		return b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {decision}})
	}
	poll := func(t *testing.T, da *oauth2.DeviceAuthResponse) (*http.Response, map[string]any) {
		t.Helper()
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	}
	for _, second := range []string{"allow", "deny"} {
		t.Run("second "+second, func(t *testing.T) {
			da, err := cfg.DeviceAuth(e.ctx())
			if err != nil {
				t.Fatal(err)
			}
			alice, af := toConfirmation(t, da.UserCode, "alice", "alice-password")
			bob, bf := toConfirmation(t, da.UserCode, "bob", "bob-password")
			if p := answer(alice, af, "allow"); p.URL.Path != "/device/done" || p.Status != http.StatusOK || !strings.Contains(p.Body, "Member TV") {
				t.Fatalf("alice allows: %s %d %.300s", p.URL, p.Status, p.Body)
			}
			p := answer(bob, bf, second)
			if p.Status < 400 || strings.Contains(p.Body, "Device connected") || strings.Contains(p.Body, "Device not connected") {
				t.Fatalf("bob's %s after alice's approval was taken: %s %d %.400s", second, p.URL, p.Status, p.Body)
			}
			resp, body := poll(t, da)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("poll: %d %v", resp.StatusCode, body)
			}
			idt, err := verifier.Verify(e.ctx(), body["id_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if want := subjectOf(t, e, "alice", "alice-password"); idt.Subject != want {
				t.Fatalf("the device is signed in as %q, want alice %q", idt.Subject, want)
			}
			time.Sleep(1100 * time.Millisecond) // the interval (1 s)
			resp, body = poll(t, da)
			wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
		})
	}
	ev, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "device.approved"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 {
		t.Fatalf("device.approved rows: %d, want one per device (2)", len(ev))
	}
}
