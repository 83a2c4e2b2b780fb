package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// TestSignOutAllDevicesEndsApprovedDeviceCode (review s21 X2-5; fails on main 169afd4): a
// device code approved in a session (say, by whoever holds the member's stolen password) and
// not yet polled survives "Sign out of all devices" (195b509): the device polls afterwards and
// gets fresh tokens, a refresh token among them, after the member was told every session and
// grant ended. An authorization code of an ended session is refused (sso/storage.go:379,
// token.code_session_ended); a device approval of one should be too.
func TestSignOutAllDevicesEndsApprovedDeviceCode(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	// The other party approves on their device, and holds the device code back.
	if p := deviceApprove(t, e, da.UserCode, "alice", "alice-password"); p.status != http.StatusOK {
		t.Fatalf("device approval: %d %s %.300s", p.status, p.path, p.body)
	}
	// The member signs out of all devices from her own browser.
	here := e.browser()
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	if _, err := other.Exchange(e.ctx(), e.signIn(here, other.AuthCodeURL("s"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	confirm := here.Get(e.issuer + "/account/signout-all")
	done := here.Post(e.issuer+"/account/signout-all", url.Values{"csrf": {confirm.Hidden().Get("csrf")}})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="signed-out-all"`) {
		t.Fatalf("sign out of all devices: %d %.400s", done.Status, done.Body)
	}
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("%d sessions survived", n)
	}
	// Now the device polls.
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("a device code approved before \"Sign out of all devices\" was redeemed after it: %.300s", body)
	}
}
