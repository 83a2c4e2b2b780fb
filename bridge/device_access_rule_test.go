package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/sso"
)

// TestDeviceAccessRuleDenied (review s9 Z8): a member the device app's access rule refuses
// signs in at /device: the page says why, and the device's request is denied, so its next
// poll gets access_denied (RFC 8628 3.5: "the authorization request was denied") instead of
// authorization_pending until the code expires.
func TestDeviceAccessRuleDenied(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) {
		if c.Policy.Policies == nil {
			c.Policy.Policies = map[string]policy.ClientPolicy{}
		}
		c.Policy.Policies["tv"] = policy.ClientPolicy{AccessRule: `member.is_current`}
	})
	lapse(e, "alice")
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.Get(da.VerificationURIComplete)
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	p = b.Login(p, "alice", "alice-password")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "not available with your membership") {
		t.Fatalf("refused member at /device: %d %s %.600s", p.Status, p.URL, p.Body)
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "access_denied")
}
