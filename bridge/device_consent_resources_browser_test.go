package bridge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestBrowserDeviceConsentNamesResources (brief s23 L2 item 1): a device that named resources
// at /device_authorization (RFC 8707) is named with them on /device before sign-in (a98fbc3)
// and now on the consent page too, where the member allows it: sso.DeviceLogin's internal
// auth request carries the device's resources. Chromium plays the member; x/oauth2 plays the
// device, and the access token it gets is for exactly the services the consent page named.
// Before, the consent page named the app and its scopes only (#consent-resources missing).
func TestBrowserDeviceConsentNamesResources(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	const media, orders, archive = "https://media.example.org/api", "https://orders.example.org", "https://archive.example.org"
	e := grantEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "tv" {
				c.Clients[i].Audiences = []string{media, orders, archive}
			}
		}
	})
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	// Two resources: x/oauth2's DeviceAuth sends one value per parameter, so the device's
	// request is posted here and x/oauth2 polls with its answer.
	resp, err := http.PostForm(e.issuer+"/device_authorization", url.Values{"client_id": {"tv"}, "scope": {"openid"},
		"resource": {media, orders}})
	if err != nil {
		t.Fatal(err)
	}
	da := new(oauth2.DeviceAuthResponse)
	err = json.NewDecoder(resp.Body).Decode(da)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || da.VerificationURIComplete == "" {
		t.Fatalf("device authorization: %d %v %+v", resp.StatusCode, err, da)
	}
	ctx := newChrome(t)
	const listed = `[...document.querySelectorAll("%s code")].map(c => c.textContent)`
	err = chromedp.Do(ctx,
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible(css("#user_code")),
		chromedp.Click(css("form button[type=submit].primary")),
		chromedp.WaitVisible(css("#device-resources")),
	)
	if err != nil {
		t.Fatalf("device entry: %v", err)
	}
	onDevice, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(listed, "#device-resources")))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#device-continue")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#consent-resources")),
	)
	if err != nil {
		t.Fatalf("sign-in to consent: %v", err)
	}
	onConsent, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(listed, "#consent-resources")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{media, orders}
	if !slices.Equal(onDevice, want) || !slices.Equal(onConsent, want) {
		t.Fatalf("resources named on /device %q, on the consent page %q; want %q on both", onDevice, onConsent, want)
	}
	if h := text(t, ctx, "h1"); !strings.Contains(h, "Member TV") || !strings.Contains(h, "device") {
		t.Fatalf("consent heading %q", h)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`button[name=decision][value=allow]`)),
		chromedp.WaitNotPresent(css("#consent-resources")), chromedp.WaitVisible(css("h1"))); err != nil {
		t.Fatalf("allow: %v", err)
	}
	done, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "\n" + document.querySelector("h1").textContent`))
	if err != nil || !strings.HasPrefix(done, bridge.PathDevice+"/done\n") || !strings.Contains(done, "return to your device") {
		t.Fatalf("after allow: %q %v", done, err)
	}
	tok, err := cfg.DeviceAccessToken(e.ctx(), da)
	if err != nil {
		t.Fatalf("device token: %v", err)
	}
	var aud []string
	switch a := verifyATJWT(t, e, tok.AccessToken)["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, v := range a {
			s, _ := v.(string)
			aud = append(aud, s)
		}
	}
	slices.Sort(aud)
	if shown := slices.Sorted(slices.Values(onConsent)); !slices.Equal(aud, shown) {
		t.Fatalf("access token aud %q, the consent page named %q", aud, shown)
	}
}

// TestConsentNamesAuthorizeResources (brief s23 L2 item 1): the consent page names the
// resources (RFC 8707) an authorization request at /authorize named, as it now does a
// device's; a request that named none has no such list.
func TestConsentNamesAuthorizeResources(t *testing.T) {
	const media = "https://media.example.org/api"
	e := grantEnv(t, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "spa" {
				c.Clients[i].Audiences = []string{media}
			}
		}
	})
	for _, tc := range []struct {
		name     string
		resource []string
	}{{"resource", []string{media}}, {"none", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "scope": {"openid"},
				"redirect_uri": {"https://spa.example.org/cb"}, "state": {"s"}, "prompt": {"consent"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
				"resource": tc.resource}
			b := e.browser()
			p := b.Get(e.issuer + "/authorize?" + q.Encode())
			p = b.Login(p, "alice", "alice-password")
			if p.URL.Path != "/consent" {
				t.Fatalf("after sign-in: %d %s %.600s", p.Status, p.URL, p.Body)
			}
			has := strings.Contains(p.Body, `id="consent-resources"`)
			if has != (tc.resource != nil) || (tc.resource != nil && !strings.Contains(p.Body, "<code>"+media+"</code>")) {
				t.Fatalf("consent page with resources %q: %.2000s", tc.resource, p.Body)
			}
		})
	}
}
