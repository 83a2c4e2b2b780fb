package bridge_test

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// TestDevicePollAMS: the device's poll after the member approved checks the member against
// the AMS (6cb74bb: the member check, then the sign-in policy), on the device path:
//   - AMS unreachable: 503 temporarily_unavailable with Retry-After, as JSON (RFC 6749 5.2's
//     error response; RFC 6749 4.1.2.1 temporarily_unavailable), never 500 server_error, and
//     the approval survives: the device's next poll once the AMS is back gets its tokens;
//   - member gone from the AMS (a deleted contact): access_denied (RFC 8628 3.5, "the
//     authorization request was denied"), never invalid_grant nor a 5xx.
func TestDevicePollAMS(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	approved := func(t *testing.T) *oauth2.DeviceAuthResponse {
		t.Helper()
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatalf("device authorization: %v", err)
		}
		if p := deviceApprove(t, e, da.UserCode, "alice", "alice-password"); p.status != 200 || p.path != "/device/done" {
			t.Fatalf("approval: %d %s %.400s", p.status, p.path, p.body)
		}
		return da
	}
	poll := func(t *testing.T, da *oauth2.DeviceAuthResponse) (*http.Response, map[string]any) {
		t.Helper()
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	}

	t.Run("AMS unreachable", func(t *testing.T) {
		da := approved(t)
		e.dir.Down = true
		resp, body := poll(t, da)
		e.dir.Down = false
		wantOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
		if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("503 headers: Retry-After %q, Cache-Control %q", resp.Header.Get("Retry-After"), resp.Header.Get("Cache-Control"))
		}
		time.Sleep(1100 * time.Millisecond) // the interval (1 s)
		resp, body = poll(t, da)
		if resp.StatusCode != http.StatusOK || body["access_token"] == nil || body["refresh_token"] == nil {
			t.Fatalf("poll once the AMS is back: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("member gone", func(t *testing.T) {
		da := approved(t)
		alice, err := e.dir.MemberByLogin(e.ctx(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		e.dir.Remove("alice")
		resp, body := poll(t, da)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "access_denied")
		// access_denied is final (RFC 8628 3.5): the member coming back (a contact restored)
		// does not turn the refused authorization into tokens (review s11 RV3: it did).
		e.dir.Add(alice, "alice-password")
		time.Sleep(1100 * time.Millisecond) // the interval (1 s)
		resp, body = poll(t, da)
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
}
