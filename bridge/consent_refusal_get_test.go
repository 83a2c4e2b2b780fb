package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestConsentPageGetDecidesNothing (review s17 R1-3): a held sign-in's consent page whose
// member may no longer sign in shows the refusal on its GET but writes nothing: no
// access.denied audit row and the device's request still pending however often the page is
// reloaded. The consent's POST decides: one audit row, and the device hears access_denied.
// Before, every GET wrote the row and denied the device's request.
func TestConsentPageGetDecidesNothing(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.Get(da.VerificationURIComplete)
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	c := b.Login(p, "bob", "bob-password")
	f := c.Hidden()
	if c.URL.Path != "/consent" || f.Get("h") == "" {
		t.Fatalf("bob's confirmation: %s %d %.600s", c.URL, c.Status, c.Body)
	}
	e.dir.Remove("bob")
	denied := func(t *testing.T, want int) {
		t.Helper()
		evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "access.denied"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != want {
			t.Fatalf("access.denied rows: %d, want %d", len(evs), want)
		}
	}
	for range 2 {
		r := b.Get(c.URL.String())
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "not available with your membership") {
			t.Fatalf("the consent page of a refused member: %d %s %.600s", r.Status, r.URL, r.Body)
		}
	}
	denied(t, 0)
	poll := func() (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	}
	resp, body := poll()
	wantOAuthError(t, resp, body, http.StatusBadRequest, "authorization_pending")

	r := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "not available with your membership") {
		t.Fatalf("the consent of a refused member: %d %s %.600s", r.Status, r.URL, r.Body)
	}
	denied(t, 1)
	resp, body = poll()
	wantOAuthError(t, resp, body, http.StatusBadRequest, "access_denied")
}
