package sso_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// The device authorization grant's resources (RFC 8707): named at /device_authorization, they
// are checked against the client's audiences there and bind the grant, as /authorize's bind a
// code's (TestResourceCodeExchange).

// deviceResourceHarness is narrowHarness's audiences on a device client, rsdev (public, as
// x/oauth2's DeviceAuth sends no secret; JWT access tokens, so that aud is read from the token
// itself), polling every second (x/oauth2's least).
func deviceResourceHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, func(c *sso.Config) { c.Device.Interval = time.Second })
	addClient(t, h, sso.ClientConfig{ID: "rsdev", Name: "Device", Public: true,
		GrantTypes: []string{sso.GrantDeviceCode, sso.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "offline_access"}, Trusted: true, AccessTokenFormat: "jwt",
		Audiences: []string{resOrders, resBilling, rsClient}})
	return h
}

// deviceConfig is x/oauth2's view of rsdev.
func (h *harness) deviceConfig() *oauth2.Config {
	c := h.oauth2Config("rsdev", "", "", "openid", "offline_access")
	c.Endpoint.DeviceAuthURL, c.Endpoint.AuthStyle = h.issuer+sso.PathDeviceAuthzEP, oauth2.AuthStyleInParams
	return c
}

// approveDevice plays the member's part at /device for userCode: alice signs in and allows it.
func (h *harness) approveDevice(userCode string) {
	h.t.Helper()
	ctx := h.t.Context()
	_, login, err := h.p.DeviceLogin(ctx, userCode)
	if err != nil || login == "" {
		h.t.Fatalf("DeviceLogin: %q %v", login, err)
	}
	lu, _ := url.Parse(login)
	id := lu.Query().Get("id")
	now := time.Now()
	if err := h.store.CreateSession(ctx, &sso.Session{ID: "dev-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		h.t.Fatal(err)
	}
	cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, SessionID: "dev-" + id})
	if err != nil {
		h.t.Fatal(err)
	}
	done, _ := url.Parse(h.get(cb).Header.Get("Location"))
	if _, ok, err := h.p.DeviceDone(ctx, done.Query()); err != nil || !ok {
		h.t.Fatalf("DeviceDone: %v %v", ok, err)
	}
}

// asDevice is form sent by rsdev, a public client (client_id in the form).
func asDevice(form url.Values) url.Values {
	form.Set("client_id", "rsdev")
	return form
}

// wantRetrieveError checks that err is the token endpoint's (or device authorization
// endpoint's) RFC 6749 5.2 answer code with status 400.
func wantRetrieveError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code || re.Response.StatusCode != 400 {
		t.Fatalf("%s: %v, want 400 %s", what, err, code)
	}
}

// TestResourceDeviceGrant, through x/oauth2's DeviceAuth and DeviceAccessToken with resource as
// an AuthCodeOption: a resource the client's tokens are not for is invalid_target at
// /device_authorization (RFC 8707 2, RFC 8628 3.2); an accepted one binds the grant: the device's
// token request naming another of the client's audiences is invalid_target and leaves the
// device code as it was (the next poll gets the tokens), the access token and its refreshes are
// for the bound resource, and a refresh naming another is invalid_target.
func TestResourceDeviceGrant(t *testing.T) {
	h := deviceResourceHarness(t)
	cfg := h.deviceConfig()
	ctx := t.Context()

	for _, res := range []string{"https://elsewhere.example/api", "relative/path", resOrders + "#frag"} {
		_, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("resource", res))
		wantRetrieveError(t, "/device_authorization naming "+res, err, "invalid_target")
	}

	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("resource", resOrders))
	if err != nil {
		t.Fatalf("device authorization naming orders: %v", err)
	}
	h.approveDevice(da.UserCode)
	_, err = cfg.DeviceAccessToken(ctx, da, oauth2.SetAuthURLParam("resource", resBilling))
	wantRetrieveError(t, "a device token request for billing, the grant being for orders", err, "invalid_target")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("the device code after a refused target: %v", err)
	}
	sameAud(t, "the bound device grant's access token", h.jwtAudience(tok.AccessToken), []string{resOrders})
	status, body, _ := h.token(asDevice(refreshForm(tok.RefreshToken)), "")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	sameAud(t, "the bound device grant's refresh", h.jwtAudience(body["access_token"].(string)), []string{resOrders})
	status, body, _ = h.token(asDevice(refreshForm(body["refresh_token"].(string), "resource", resBilling)), "")
	if status != 400 || body["error"] != "invalid_target" {
		t.Fatalf("a refresh of the device grant for billing: %d %v", status, body)
	}
	// Spent once redeemed, however it is asked again.
	_, err = cfg.DeviceAccessToken(ctx, da, oauth2.SetAuthURLParam("resource", resOrders))
	wantRetrieveError(t, "the redeemed device code", err, "invalid_grant")
}

// TestResourceDeviceGrantSubset: a device grant bound to two resources (resource repeated at
// /device_authorization) may be redeemed for one of them; its refreshes without resource are for
// both again, and one naming the other gets that one. A grant that named none is bound by the
// token request that redeems it, as before resources were read at /device_authorization.
func TestResourceDeviceGrantSubset(t *testing.T) {
	h := deviceResourceHarness(t)
	start := func(resources ...string) (deviceCode, userCode string) {
		t.Helper()
		resp := h.post(sso.PathDeviceAuthzEP, asDevice(url.Values{"scope": {"openid offline_access"}, "resource": resources}), "")
		body := decodeJSON(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("device authorization naming %q: %d %v", resources, resp.StatusCode, body)
		}
		return body["device_code"].(string), body["user_code"].(string)
	}
	redeem := func(dc string, resources ...string) map[string]any {
		t.Helper()
		status, body, _ := h.token(asDevice(url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {dc}, "resource": resources}), "")
		if status != 200 {
			t.Fatalf("device token request naming %q: %d %v", resources, status, body)
		}
		return body
	}

	dc, uc := start(resOrders, resBilling)
	h.approveDevice(strings.ToLower(uc))
	body := redeem(dc, resBilling)
	sameAud(t, "the device grant redeemed for billing", h.jwtAudience(body["access_token"].(string)), []string{resBilling})
	status, body, _ := h.token(asDevice(refreshForm(body["refresh_token"].(string))), "")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	sameAud(t, "its refresh without resource", h.jwtAudience(body["access_token"].(string)), []string{resOrders, resBilling})
	status, body, _ = h.token(asDevice(refreshForm(body["refresh_token"].(string), "resource", resOrders)), "")
	if status != 200 {
		t.Fatalf("refresh for orders: %d %v", status, body)
	}
	sameAud(t, "its refresh for orders", h.jwtAudience(body["access_token"].(string)), []string{resOrders})

	dc, uc = start()
	h.approveDevice(uc)
	body = redeem(dc, resBilling)
	sameAud(t, "an unbound device grant redeemed for billing", h.jwtAudience(body["access_token"].(string)), []string{resBilling})
	status, body, _ = h.token(asDevice(refreshForm(body["refresh_token"].(string))), "")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	sameAud(t, "its refresh", h.jwtAudience(body["access_token"].(string)), []string{resBilling})
}
