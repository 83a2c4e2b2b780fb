package rp

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const (
	nativeClient = "desktop-app"
	nativeScope  = "openid profile offline_access"
)

// nativeReport is what the openid-client native app received (node/openid-client-native.mjs).
type nativeReport struct {
	RedirectURI string            `json:"redirect_uri"`
	Callback    map[string]string `json:"callback"`
	Error       string            `json:"error"`
	Code        ocStep[ocTokens]  `json:"code"`
}

// TestOpenIDClientNativeLoopback: openid-client 6 (node) as a native app (RFC 8252), a public
// client with PKCE whose redirect URI is registered without a port
// (http://127.0.0.1/callback, http://[::1]/callback) and which listens on a port chosen when it
// starts: the bridge accepts any port on the loopback IP literal (RFC 8252 7.3), sends the
// authorization response there with iss (RFC 9207), and the token endpoint accepts the code for
// that redirect URI from the public client (no client authentication); openid-client validates
// the ID token. A request_uri (OIDC Core 6.2) is answered request_uri_not_supported at that
// redirect URI, which openid-client raises after checking state and iss.
func TestOpenIDClientNativeLoopback(t *testing.T) {
	node, dir := nodePackages(t)
	b := rpharness.StartBridge(t, []config.Client{{ID: nativeClient, Name: "Desktop app (openid-client)", Public: true, Trusted: true,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"}}})

	for _, host := range []string{"127.0.0.1", "[::1]"} {
		t.Run("loopback "+host+" with a run-time port", func(t *testing.T) {
			ln, err := net.Listen("tcp", host+":0")
			if err != nil {
				if host == "[::1]" {
					t.Skipf("no IPv6 loopback here: %v", err)
				}
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			origin := "http://" + ln.Addr().String()
			ctx := rpharness.NewChrome(t) // one browser per app: the 90 s budget of a browser is its own
			startNode(t, "openid-client native app ("+host+")", node, dir, "openid-client-native.mjs", ln.(*net.TCPListener), origin,
				"RP_ISSUER="+b.Issuer, "RP_BASE="+origin, "RP_CLIENT_ID="+nativeClient, "RP_SCOPE="+nativeScope)
			authz := recordAuthorize(t, ctx, b.Issuer)
			rpharness.SignIn(t, ctx, b, origin+"/start", rpharness.StaffLogin, rpharness.StaffPassword)
			r := &nativeReport{}
			readReport(t, ctx, "the app", r)
			q := authz.checkPKCE(t, nativeClient)
			if q.Get("redirect_uri") != origin+"/callback" || !strings.Contains(origin, ":") {
				t.Fatalf("openid-client's redirect_uri %q, want %q (the run-time port)", q.Get("redirect_uri"), origin+"/callback")
			}
			if u, _ := url.Parse(origin); u.Port() == "" || u.Port() == "80" {
				t.Fatalf("the app's port %q is not one chosen at run time", u.Port())
			}
			if r.Callback["iss"] != b.Issuer || r.Callback["code"] == "" {
				t.Fatalf("authorization response at the loopback port: %v", r.Callback)
			}
			if !r.Code.OK {
				t.Fatalf("openid-client's code grant failed: %s", r.Code.failure())
			}
			tok := r.Code.Value
			if tok.AccessToken == "" || tok.IDToken == "" || tok.RefreshToken == "" {
				t.Fatalf("tokens: access %t, id %t, refresh %t", tok.AccessToken != "", tok.IDToken != "", tok.RefreshToken != "")
			}
			if tok.Claims["iss"] != b.Issuer || !audHas(tok.Claims["aud"], nativeClient) || str(tok.Claims["sub"]) == "" {
				t.Fatalf("ID token (validated by openid-client): iss %v aud %v sub %v", tok.Claims["iss"], tok.Claims["aud"], tok.Claims["sub"])
			}
			if host != "127.0.0.1" {
				return
			}
			t.Run("request_uri: request_uri_not_supported at the loopback redirect, raised by openid-client", func(t *testing.T) {
				// The browser is signed in at the bridge now: the refusal must come before any sign-in
				// or consent, from the request alone.
				if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/start?request_uri="+url.QueryEscape("https://app.example.org/request/1"))); err != nil {
					t.Fatal(err)
				}
				r := &nativeReport{}
				readReport(t, ctx, "the app", r)
				if r.Callback["error"] != "request_uri_not_supported" || r.Callback["iss"] != b.Issuer || r.Callback["state"] == "" || r.Callback["code"] != "" {
					t.Fatalf("authorization response: %v, want error request_uri_not_supported with state and iss, no code", r.Callback)
				}
				if r.Code.OK || r.Code.Error == nil || r.Code.Error.Error != "request_uri_not_supported" {
					t.Fatalf("openid-client: want it to raise request_uri_not_supported, got %+v %s", r.Code.Value, r.Code.failure())
				}
			})
		})
	}
}

func (r *nativeReport) callbackError() string { return r.Error }
