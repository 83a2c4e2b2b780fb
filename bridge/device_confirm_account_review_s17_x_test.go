package bridge_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestDeviceConfirmationNamesTheAccount (review s17 X17-2; RFC 8628 5.4 and 3.3): a browser
// with a live session goes from the user code straight to the device confirmation, with no
// password asked. That page names the app but not the account the device will be signed in
// to, so on a shared computer (a family's, a library's) someone typing their TV's code approves
// it as whoever is signed in there, without being told. The page must name the account (and
// offer to use another).
func TestDeviceConfirmationNamesTheAccount(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	b := e.browser()
	// alice signs in in this browser (approving a first device).
	first, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(first.UserCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {first.UserCode}})
	p = b.Login(p, "alice", "alice-password")
	if p.URL.Path != "/consent" {
		t.Fatalf("first device: %s %d %.400s", p.URL, p.Status, p.Body)
	}
	f := p.Hidden()
	b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})

	// Someone else at this computer types a second device's code: no sign-in is asked.
	second, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	p = b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(second.UserCode))
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {second.UserCode}})
	if p.URL.Path != "/consent" || !strings.Contains(p.Body, "on a device?") {
		t.Fatalf("second device: want the confirmation at once, got %s %d %.400s", p.URL, p.Status, p.Body)
	}
	if !strings.Contains(strings.ToLower(p.Body), "alice") {
		t.Fatalf("the device confirmation does not say which account the device is signed in to: %.1200s", p.Body)
	}
}
