package bridge_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/sso"
)

// TestDevicePageNamesResources (brief s21 Q2 item 5): a device that named resources at
// /device_authorization (RFC 8707; 11f9f00 binds the grant to them) is named with them on /device
// once its code is entered, before the member signs in: the page names the app and each
// resource, and its Continue link leads to the sign-in, after which the device is approved and
// its access token is for those resources. A device that named none goes straight to the
// sign-in, as before (deviceApprove).
func TestDevicePageNamesResources(t *testing.T) {
	const media, orders = "https://media.example.org/api", "https://orders.example.org"
	e := grantEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "tv" {
				c.Clients[i].Audiences = []string{media, orders}
			}
		}
	})
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx(), oauth2.SetAuthURLParam("resource", media))
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.Get(da.VerificationURIComplete)
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	if p.Status != http.StatusOK || p.URL.Path != "/device" || !strings.Contains(p.Body, "Member TV") ||
		!strings.Contains(p.Body, "<code>"+media+"</code>") || strings.Contains(p.Body, orders) {
		t.Fatalf("after a code with resources: %d %s %.1200s", p.Status, p.URL, p.Body)
	}
	m := regexp.MustCompile(`id="device-continue" href="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no Continue link: %.1200s", p.Body)
	}
	p = b.Get(e.issuer + html.UnescapeString(m[1]))
	if p.URL.Path != "/login" {
		t.Fatalf("Continue led to %s %d", p.URL, p.Status)
	}
	p = b.Login(p, "alice", "alice-password")
	if p.URL.Path == "/consent" {
		f := p.Hidden()
		p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	if p.URL.Path != "/device/done" || !strings.Contains(p.Body, "return to your device") {
		t.Fatalf("after sign-in: %d %s %.600s", p.Status, p.URL, p.Body)
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("device token: %d %v", resp.StatusCode, body)
	}
	claims := verifyATJWT(t, e, body["access_token"].(string))
	if aud := claims["aud"]; aud != media && !(func() bool { a, ok := aud.([]any); return ok && len(a) == 1 && a[0] == media })() {
		t.Fatalf("access token aud %v, want %s", aud, media)
	}
}
