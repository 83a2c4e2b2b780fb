package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// Review s25 Y-3 (Medium): /device/done denies the device authorization for good (RFC 8628 3.5
// access_denied at the device's next poll, "Device not connected" to the member) for ANY error
// at the internal request's redirect (sso DeviceDone: `if q.Get("error") != "" { ...
// DecideDeviceAuthorization(ctx, userCode, false, ...) }`), whereas only the member's refusal
// (access_denied: consent refused, access rule) is a denial. op's authorize callback sends the
// device's internal request there with error=server_error when its store write fails
// (storage.SaveAuthCode -> store.SaveCode: op.AuthRequestError redirects any storage error to
// the redirect_uri), and with error=invalid_request "this sign-in was already completed" when a
// second callback races the first: a server fault (or a double navigation) refuses the device
// permanently, and the member must start again on the device. The redirect op sends on a
// SaveCode failure is reproduced here directly (its state taken from the stored internal
// request), since the store cannot be made to fail at that one write from a bridge test.
// Fails on main: the next poll is 400 access_denied.
func TestY25DeviceDoneServerErrorIsNotADenial(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	b := e.browser()
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(da.UserCode))
	if p.Status != 200 {
		t.Fatalf("device page: %d %.300s", p.Status, p.Body)
	}
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	if p.URL.Path != "/login" {
		t.Fatalf("after the code: %s %d %.300s", p.URL, p.Status, p.Body)
	}
	ar, err := e.store.AuthRequest(e.ctx(), p.URL.Query().Get("id"))
	if err != nil {
		t.Fatalf("the device's internal request: %v", err)
	}
	// What op's callback answers when its code write fails (op.AuthRequestError with a plain
	// storage error: server_error at the request's redirect_uri, with its state).
	done := b.Get(e.issuer + "/device/done?" + url.Values{"error": {"server_error"}, "error_description": {"the store failed"},
		"state": {ar.State}}.Encode())
	t.Logf("/device/done with error=server_error: %d %s", done.Status, strings.TrimSpace(y25Between(done.Body, "<h1", "</h1>")))
	if done.Status != http.StatusInternalServerError || strings.Contains(done.Body, "Device not connected") || !strings.Contains(done.Body, `href="`+e.issuer+`/device"`) {
		t.Errorf("/device/done with error=server_error: %d %s, want 500 with a way to enter the code again, never \"Device not connected\"",
			done.Status, strings.TrimSpace(y25Between(done.Body, "<h1", "</h1>")))
	}

	time.Sleep(1100 * time.Millisecond) // the interval
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "authorization_pending" {
		t.Errorf("the device's poll after a server error in the member's browser: %d %v, want 400 authorization_pending (the member may try again), never access_denied",
			resp.StatusCode, body)
	}
}

func y25Between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}
