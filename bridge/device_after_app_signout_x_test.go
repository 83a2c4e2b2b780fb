package bridge_test

// Review s22 X: "Sign out of <app> on all your devices" (account page, 8850b1f and
// before) revokes the member's grants at the app, tells it and takes it out of the sessions,
// but a device code the member approved for that app and the device has not redeemed yet stays
// approved: the device's next poll gets tokens (a working refresh token) after the member
// signed out of the app everywhere (the session that approved it is still live). A member who
// approved a phished device code and signs out of the app at once is not protected. Drop into
// bridge/.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

func TestXDeviceCodeOutlivesSignOutOfApp(t *testing.T) { testXDeviceAfter(t, "signout") }

// Withdrawing the consent (the account page's other action on an app) alike.
func TestXDeviceCodeOutlivesWithdrawal(t *testing.T) { testXDeviceAfter(t, "withdraw") }

func testXDeviceAfter(t *testing.T, action string) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(da.UserCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {strings.ToLower(da.UserCode)}})
	p = b.Login(p, "alice", "alice-password")
	if p.URL.Path == "/consent" {
		f := p.Hidden()
		p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	if p.Status != http.StatusOK {
		t.Fatalf("device approval: %d %s", p.Status, p.URL)
	}
	acc := b.Get(e.issuer + "/account")
	if !strings.Contains(acc.Body, "Sign out of Member TV on all your devices") {
		t.Fatalf("the account page offers no sign-out of Member TV: %.600s", acc.Body)
	}
	done := b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"tv"}, "action": {action}})
	if d := done.URL.Query().Get("done"); d != "signedout" && d != "withdrawn" {
		t.Fatalf("sign out of Member TV: %d at %s", done.Status, done.URL)
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode == http.StatusOK {
		rt, _ := body["refresh_token"].(string)
		again, _ := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "tv"})
		t.Fatalf("the device got tokens after the member's %q of Member TV on the account page; its refresh token then answers %d", action, again.StatusCode)
	}
}
