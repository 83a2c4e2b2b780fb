package rp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
	"github.com/ssobridge/ssobridge/sso"
)

const (
	deviceClient   = "living-room.tv"
	deviceSecret   = "device-secret-0123456789abcdefABCDEF"
	deviceScope    = "openid profile offline_access"
	deviceResource = "https://orders.example.org/"
)

// deviceOutcome is what the openid-client device reported (node/openid-client-device.mjs).
type deviceOutcome struct {
	OK     bool     `json:"ok"`
	Tokens ocTokens `json:"tokens"`
	Error  *ocError `json:"error"`
	Polls  []struct {
		GrantType string   `json:"grant_type"`
		Resource  []string `json:"resource"`
	} `json:"polls"`
}

// TestOpenIDClientDevice: openid-client 6 (node) as a device (RFC 8628): it starts the device
// authorization grant and polls with the library's own poller while the demo staff member
// approves in Chromium at the bridge's /device page (code, login page, the device confirmation);
// the device gets tokens, openid-client validates the ID token, and the access token (RFC
// 9068) is for the resource it named (RFC 8707). A resource the client's tokens are not for is
// answered invalid_target, which openid-client raises.
func TestOpenIDClientDevice(t *testing.T) {
	node, dir := nodePackages(t)
	ctx := rpharness.NewChrome(t)
	b := rpharness.StartBridge(t, []config.Client{{ID: deviceClient, Name: "Living-room TV", Secret: deviceSecret,
		GrantTypes: []string{sso.GrantDeviceCode, sso.GrantRefreshToken}, AccessTokenFormat: "jwt",
		Audiences: []string{deviceResource}}},
		func(c *bridge.Config) { c.Tokens.DeviceInterval = time.Second })

	device := func(t *testing.T) string {
		ln, origin := listen(t)
		startNode(t, "openid-client device", node, dir, "openid-client-device.mjs", ln, origin,
			"RP_ISSUER="+b.Issuer, "RP_CLIENT_ID="+deviceClient, "RP_CLIENT_SECRET="+deviceSecret, "RP_SCOPE="+deviceScope)
		return origin
	}
	get := getJSON
	result := deviceResult

	t.Run("device flow with a resource indicator", func(t *testing.T) {
		origin := device(t)
		var da struct {
			UserCode                string `json:"user_code"`
			VerificationURI         string `json:"verification_uri"`
			VerificationURIComplete string `json:"verification_uri_complete"`
			Interval                int    `json:"interval"`
		}
		if status := get(t, origin+"/start?resource="+url.QueryEscape(deviceResource), &da); status != http.StatusOK || da.UserCode == "" {
			t.Fatalf("device authorization in openid-client: %d %+v", status, da)
		}
		if da.VerificationURI != b.Issuer+"/device" || !strings.HasPrefix(da.VerificationURIComplete, b.Issuer+"/device?user_code=") {
			t.Fatalf("verification URIs %q %q", da.VerificationURI, da.VerificationURIComplete)
		}
		time.Sleep(1500 * time.Millisecond) // the device polls meanwhile: authorization_pending
		// The member's side, in the browser: the code (filled in from verification_uri_complete),
		// the login page, the device confirmation naming the app (RFC 8628 5.4).
		deviceDecide(t, ctx, da.VerificationURIComplete, "allow")

		out := result(t, origin)
		if !out.OK {
			b, _ := json.Marshal(out.Error)
			t.Fatalf("openid-client's device poll failed: %s", b)
		}
		tok := out.Tokens
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
			t.Fatalf("device tokens: access %t, refresh %t, id %t, type %q", tok.AccessToken != "", tok.RefreshToken != "", tok.IDToken != "", tok.TokenType)
		}
		if tok.Claims["iss"] != b.Issuer || !audHas(tok.Claims["aud"], deviceClient) || str(tok.Claims["sub"]) == "" {
			t.Fatalf("ID token (validated by openid-client): iss %v aud %v sub %v", tok.Claims["iss"], tok.Claims["aud"], tok.Claims["sub"])
		}
		parts := strings.Split(tok.AccessToken, ".")
		if len(parts) != 3 {
			t.Fatalf("the access token is not a JWT (access_token_format jwt)")
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		var at map[string]any
		if err == nil {
			err = json.Unmarshal(raw, &at)
		}
		if err != nil || !audHas(at["aud"], deviceResource) || at["client_id"] != deviceClient || at["sub"] != tok.Claims["sub"] {
			t.Fatalf("access token claims: %v (%v)", at, err)
		}
		pending := 0
		for _, p := range out.Polls {
			if p.GrantType != sso.GrantDeviceCode || len(p.Resource) != 1 || p.Resource[0] != deviceResource {
				t.Fatalf("a poll openid-client sent: %+v", p)
			}
			pending++
		}
		if pending < 2 {
			t.Fatalf("openid-client polled %d times, want the pending polls and the last one", pending)
		}
	})

	t.Run("a resource the client's tokens are not for: invalid_target", func(t *testing.T) {
		origin := device(t)
		var da map[string]any
		if status := get(t, origin+"/start?resource="+url.QueryEscape("https://elsewhere.example.org/"), &da); status != http.StatusOK {
			t.Fatalf("device authorization in openid-client: %d %v", status, da)
		}
		out := result(t, origin)
		if out.OK || out.Error == nil || out.Error.Error != "invalid_target" || out.Error.Status != http.StatusBadRequest {
			b, _ := json.Marshal(out)
			t.Fatalf("want openid-client to raise invalid_target (400), got %s", b)
		}
	})
}

// getJSON GETs u and decodes its JSON answer into v, returning the status.
func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %d %.300s", u, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// deviceResult waits for the openid-client device's outcome (its poller's tokens or error).
func deviceResult(t *testing.T, origin string) *deviceOutcome {
	t.Helper()
	var out deviceOutcome
	deadline := time.Now().Add(60 * time.Second)
	for getJSON(t, origin+"/result", &out) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the device never finished polling")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return &out
}

// deviceDecide is the member's side of a device authorization, in the browser: the code
// (filled in from verification_uri_complete), the login page as the demo staff member, the
// device confirmation naming the app (RFC 8628 5.4), and decision (allow, or deny) there; an
// approval waits for the page telling the member to return to the device.
func deviceDecide(t *testing.T, ctx context.Context, verificationURIComplete, decision string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(verificationURIComplete),
		chromedp.WaitVisible(css("#user_code")),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), rpharness.StaffLogin),
		chromedp.SendKeys(css("#password"), rpharness.StaffPassword),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css(`button[name=decision][value=allow]`)),
	)
	if err != nil {
		t.Fatalf("member's side: %v (browser at %s: %.400s)", err, rpharness.Location(ctx), rpharness.BodyText(ctx))
	}
	if body := rpharness.BodyText(ctx); !strings.Contains(body, "Living-room TV") {
		t.Fatalf("the confirmation does not name the app: %.400s", body)
	}
	button := css(`button[name=decision][value=allow]`)
	if decision != "allow" {
		button = css(`button[name=decision]:not([value=allow])`)
	}
	if err := chromedp.Do(ctx, chromedp.Click(button)); err != nil {
		t.Fatal(err)
	}
	if decision != "allow" {
		return
	}
	if err := rpharness.WaitJS(ctx, `document.body.innerText.includes("return to your device")`); err != nil {
		t.Fatalf("no 'return to your device' page: %v (%s: %.400s)", err, rpharness.Location(ctx), rpharness.BodyText(ctx))
	}
}
