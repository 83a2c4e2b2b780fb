package proxies

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const oauth2ProxySecret = "oauth2-proxy-secret-0123456789abcdef"

// oauth2Proxy is one oauth2-proxy process in front of an upstream.
type oauth2Proxy struct {
	URL string
	*rpharness.Process
}

// oauth2ProxyBinary finds oauth2-proxy, or skips (fails under SSOBRIDGE_REQUIRE_RP=1).
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	bin := rpharness.LookTool("SSOBRIDGE_OAUTH2_PROXY", "oauth2-proxy")
	if bin == "" {
		rpharness.Require(t, "oauth2-proxy is not installed (SSOBRIDGE_OAUTH2_PROXY or PATH)")
	}
	return bin
}

// oauth2ProxyClient registers oauth2-proxy at the bridge as a confidential, first-party client.
func oauth2ProxyClient(base string) config.Client {
	return config.Client{ID: "oauth2-proxy", Name: "Intranet (oauth2-proxy)", Secret: oauth2ProxySecret, Trusted: true,
		RedirectURIs: []string{base + "/oauth2/callback"}}
}

// startOAuth2Proxy runs oauth2-proxy on port in front of up, with the bridge as its OIDC
// provider. extra flags are appended (a repeated flag overrides the one above).
func startOAuth2Proxy(t *testing.T, bin string, port int, b *rpharness.Bridge, up *rpharness.Upstream, extra ...string) *oauth2Proxy {
	t.Helper()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--http-address=127.0.0.1:" + strconv.Itoa(port),
		"--provider=oidc",
		"--oidc-issuer-url=" + b.Issuer,
		"--client-id=oauth2-proxy",
		"--client-secret=" + oauth2ProxySecret,
		"--redirect-url=" + base + "/oauth2/callback",
		"--upstream=" + up.URL + "/",
		"--scope=openid profile email roles",
		// The bridge releases roles in the "roles" claim (scope roles); oauth2-proxy's default is
		// "groups". This is what turns roles into X-Forwarded-Groups.
		"--oidc-groups-claim=roles",
		"--code-challenge-method=S256",
		"--email-domain=*",
		// Straight to the bridge's login page, without oauth2-proxy's own "Sign in with" page.
		"--skip-provider-button=true",
		"--pass-access-token=true",
		"--cookie-secret=" + base64.RawURLEncoding.EncodeToString([]byte(rpharness.RandomHex(16))),
		// Loopback testing only: the proxy is served over plain http on 127.0.0.1, so its session
		// cookie cannot carry the Secure flag (a Secure cookie set over http is refused).
		"--cookie-secure=false",
		// Nothing else is needed for the plain-http loopback issuer (discovery, JWKS and token
		// calls work over http as they are). The tests read oauth2-proxy's request and auth log.
		"--request-logging=true",
	}
	p := rpharness.StartProcess(t, "oauth2-proxy", bin, append(args, extra...)...)
	p.WaitHTTP(t, "oauth2-proxy", base+"/ping")
	return &oauth2Proxy{URL: base, Process: p}
}

// TestOAuth2Proxy: oauth2-proxy (a real v7 release) in front of a tiny upstream, signed in
// through the bridge's real login page in Chromium.
func TestOAuth2Proxy(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	up := rpharness.StartUpstream(t)
	port := rpharness.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	b := rpharness.StartBridge(t, []config.Client{oauth2ProxyClient(base)})
	// The bridge sends email_verified=false by default (iMIS does not verify addresses), which
	// oauth2-proxy refuses unless told that unverified addresses are acceptable for this app.
	proxy := startOAuth2Proxy(t, bin, port, b, up, "--insecure-oidc-allow-unverified-email=true")
	ctx := rpharness.NewChrome(t)

	// Each subtest's name says what it proved.
	var r *http.Request
	if !t.Run("anonymous visit goes to the bridge's login page, sign-in lands on the page asked for", func(t *testing.T) {
		rpharness.SignIn(t, ctx, b, proxy.URL+"/reports/q3", rpharness.StaffLogin, rpharness.StaffPassword)
		r = rpharness.WaitUpstream(t, ctx, up, "sign-in through oauth2-proxy")
		if r.URL.Path != "/reports/q3" {
			t.Errorf("upstream got %s; oauth2-proxy should return to the page first asked for", r.URL.Path)
		}
	}) {
		return
	}
	t.Run("the passed access token is live at userinfo and X-Forwarded-User is the member's sub", func(t *testing.T) {
		status, info := b.Userinfo(t, r.Header.Get("X-Forwarded-Access-Token"))
		if status != http.StatusOK {
			t.Fatalf("the access token passed to the upstream is refused at userinfo: %d", status)
		}
		if user := r.Header.Get("X-Forwarded-User"); user == "" || user != info["sub"] {
			t.Errorf("X-Forwarded-User %q, want the member's sub %v", user, info["sub"])
		}
	})
	t.Run("X-Forwarded-Email and X-Forwarded-Preferred-Username are the member's", func(t *testing.T) {
		if got := r.Header.Get("X-Forwarded-Email"); got != rpharness.StaffEmail {
			t.Errorf("X-Forwarded-Email %q, want %q", got, rpharness.StaffEmail)
		}
		if got := r.Header.Get("X-Forwarded-Preferred-Username"); got != rpharness.StaffLogin {
			t.Errorf("X-Forwarded-Preferred-Username %q, want %q", got, rpharness.StaffLogin)
		}
	})
	// The roles claim (oauth2-proxy --oidc-groups-claim=roles) is what an app behind oauth2-proxy
	// authorises on; the role marked for delete in the AMS must not appear.
	t.Run("X-Forwarded-Groups are the member's live AMS roles", func(t *testing.T) {
		if got, want := rpharness.HeaderList(r.Header, "X-Forwarded-Groups"), staffRoles(t, b); !slices.Equal(got, want) {
			t.Errorf("X-Forwarded-Groups %q, want the staff roles %q", got, want)
		}
	})
	n := up.Count()
	t.Run("the next page is served from oauth2-proxy's session", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(proxy.URL+"/second"), chromedp.WaitVisible(css("#upstream"))); err != nil {
			t.Fatalf("second page: %v (at %s)", err, rpharness.Location(ctx))
		}
		if up.Count() != n+1 || up.Last().URL.Path != "/second" || up.Last().Header.Get("X-Forwarded-Email") != rpharness.StaffEmail {
			t.Errorf("second page not served from the session")
		}
	})
	t.Run("a request without the session cookie is redirected to the bridge, never let through", func(t *testing.T) {
		n := up.Count()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(proxy.URL + "/reports/q3")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), b.Issuer+"/") {
			t.Errorf("anonymous request: %d to %q, want a redirect to the bridge", resp.StatusCode, resp.Header.Get("Location"))
		}
		if up.Count() != n {
			t.Errorf("the upstream was reached without a session")
		}
	})
}

// TestOAuth2ProxyRefusesUnverifiedEmail: with oauth2-proxy's defaults, the bridge's
// email_verified=false (iMIS does not verify addresses) makes oauth2-proxy refuse the sign-in.
// Proves that email_verified is sent, and as false, so an app cannot mistake an AMS address for
// a verified one; README documents the flag such a deployment needs.
func TestOAuth2ProxyRefusesUnverifiedEmail(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	up := rpharness.StartUpstream(t)
	port := rpharness.FreePort(t)
	b := rpharness.StartBridge(t, []config.Client{oauth2ProxyClient("http://127.0.0.1:" + strconv.Itoa(port))})
	proxy := startOAuth2Proxy(t, bin, port, b, up)
	ctx := rpharness.NewChrome(t)

	rpharness.SignIn(t, ctx, b, proxy.URL+"/", rpharness.StaffLogin, rpharness.StaffPassword)
	// oauth2-proxy answers the callback with its error page (500) naming the reason.
	if err := rpharness.WaitJS(ctx, `location.origin == "`+proxy.URL+`" && document.readyState == "complete"`); err != nil {
		t.Fatalf("no answer from oauth2-proxy's callback: %v (at %s)", err, rpharness.Location(ctx))
	}
	if up.Count() != 0 {
		t.Fatalf("oauth2-proxy let a member with email_verified=false through (upstream got %d requests; is email_verified sent?)", up.Count())
	}
	if !strings.Contains(proxy.Output.String(), "isn't verified") {
		t.Errorf("oauth2-proxy refused for another reason than the unverified email:\n%s", fmt.Sprint(rpharness.BodyText(ctx)))
	}
}

// TestOAuth2ProxyAllowedGroup: oauth2-proxy authorises on the member's AMS roles
// (--allowed-group, matched against the roles claim). Proves: a member holding the role gets
// through; a member without it is refused by oauth2-proxy after a successful sign-in, and the
// upstream is never reached.
func TestOAuth2ProxyAllowedGroup(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	up := rpharness.StartUpstream(t)
	port := rpharness.FreePort(t)
	b := rpharness.StartBridge(t, []config.Client{oauth2ProxyClient("http://127.0.0.1:" + strconv.Itoa(port))})
	proxy := startOAuth2Proxy(t, bin, port, b, up, "--insecure-oidc-allow-unverified-email=true", "--allowed-group=Content Administrator")

	staff := rpharness.NewChrome(t)
	rpharness.SignIn(t, staff, b, proxy.URL+"/admin", rpharness.StaffLogin, rpharness.StaffPassword)
	if r := rpharness.WaitUpstream(t, staff, up, "staff (Content Administrator)"); r.URL.Path != "/admin" {
		t.Fatalf("upstream got %s", r.URL.Path)
	}

	alice := rpharness.NewChrome(t) // a member whose only live role is Member
	rpharness.SignIn(t, alice, b, proxy.URL+"/admin", "alice", "alice-demo-1")
	if err := rpharness.WaitJS(alice, `location.origin == "`+proxy.URL+`" && document.readyState == "complete"`); err != nil {
		t.Fatalf("no answer from oauth2-proxy: %v", err)
	}
	if up.Count() != 1 {
		t.Fatalf("a member without the allowed group reached the upstream")
	}
	if !strings.Contains(rpharness.BodyText(alice), "Forbidden") && !strings.Contains(proxy.Output.String(), "403") {
		t.Errorf("alice was not refused with 403: %.300s", rpharness.BodyText(alice))
	}
}

// TestOAuth2ProxyVerifiedEmails: an association whose AMS holds only verified addresses sets
// email_verified: true, and oauth2-proxy then signs members in with its defaults (no
// --insecure-oidc-allow-unverified-email). Proves that the setting reaches the ID token.
func TestOAuth2ProxyVerifiedEmails(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	up := rpharness.StartUpstream(t)
	port := rpharness.FreePort(t)
	b := rpharness.StartBridge(t, []config.Client{oauth2ProxyClient("http://127.0.0.1:" + strconv.Itoa(port))},
		func(c *bridge.Config) { c.Policy.EmailVerified = true })
	proxy := startOAuth2Proxy(t, bin, port, b, up)
	ctx := rpharness.NewChrome(t)

	rpharness.SignIn(t, ctx, b, proxy.URL+"/", rpharness.StaffLogin, rpharness.StaffPassword)
	r := rpharness.WaitUpstream(t, ctx, up, "sign-in with verified e-mails")
	if got := r.Header.Get("X-Forwarded-Email"); got != rpharness.StaffEmail {
		t.Errorf("X-Forwarded-Email %q, want %q", got, rpharness.StaffEmail)
	}
}

// TestOAuth2ProxyRefresh: oauth2-proxy with offline_access refreshes its session once it is older
// than --cookie-refresh, through the bridge's refresh grant.
func TestOAuth2ProxyRefresh(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	up := rpharness.StartUpstream(t)
	port := rpharness.FreePort(t)
	b := rpharness.StartBridge(t, []config.Client{oauth2ProxyClient("http://127.0.0.1:" + strconv.Itoa(port))})
	proxy := startOAuth2Proxy(t, bin, port, b, up, "--insecure-oidc-allow-unverified-email=true",
		"--scope=openid profile email roles offline_access", "--cookie-refresh=1s")
	ctx := rpharness.NewChrome(t)

	rpharness.SignIn(t, ctx, b, proxy.URL+"/start", rpharness.StaffLogin, rpharness.StaffPassword)
	r := rpharness.WaitUpstream(t, ctx, up, "sign-in")
	sub, at := r.Header.Get("X-Forwarded-User"), r.Header.Get("X-Forwarded-Access-Token")
	// Twice: the second refresh works only if oauth2-proxy kept the rotated refresh token, and
	// the bridge's strict rotation would end the family if it replayed the first one.
	for i := 1; i <= 2; i++ {
		t.Run(fmt.Sprintf("refresh %d: a new live access token for the same member, roles kept", i), func(t *testing.T) {
			// Visit pages until the session is older than --cookie-refresh and oauth2-proxy
			// refreshes it (it logs each refresh).
			refreshes := func() int { return strings.Count(proxy.Output.String(), "Refreshing session") }
			before, page := refreshes(), ""
			for k := 0; refreshes() == before; k++ {
				if k == 50 {
					t.Fatalf("oauth2-proxy never refreshed its session")
				}
				time.Sleep(200 * time.Millisecond)
				page = fmt.Sprintf("/after-refresh-%d-%d", i, k)
				if err := chromedp.Do(ctx, chromedp.Navigate(proxy.URL+page), chromedp.WaitVisible(css("#upstream"))); err != nil {
					t.Fatalf("page: %v (at %s)", err, rpharness.Location(ctx))
				}
			}
			r := up.Last()
			if r.URL.Path != page {
				t.Fatalf("upstream got %s, want %s", r.URL.Path, page)
			}
			if strings.Contains(proxy.Output.String(), "Unable to refresh session") {
				t.Fatalf("oauth2-proxy could not refresh its session")
			}
			at2 := r.Header.Get("X-Forwarded-Access-Token")
			if at2 == at || at2 == "" {
				t.Fatalf("the access token was not renewed")
			}
			if status, info := b.Userinfo(t, at2); status != http.StatusOK || info["sub"] != sub {
				t.Fatalf("refreshed access token at userinfo: %d %v", status, info)
			}
			if got, want := rpharness.HeaderList(r.Header, "X-Forwarded-Groups"), staffRoles(t, b); !slices.Equal(got, want) {
				t.Errorf("X-Forwarded-Groups after refresh %q, want %q", got, want)
			}
			at = at2
		})
	}
}
