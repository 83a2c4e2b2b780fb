package proxies

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const apacheSecret = "apache-secret-0123456789abcdef0123456"

// apacheRP is Apache httpd with mod_auth_openidc, run in the foreground with a generated config.
type apacheRP struct {
	URL      string // http://127.0.0.1:port
	Redirect string // the module's redirect URI (also its hooks: logout, refresh, info)
	*rpharness.Process
}

// apacheBinaries finds apache2 and its module directory (with mod_auth_openidc), or skips
// (fails under SSOBRIDGE_REQUIRE_RP=1).
func apacheBinaries(t *testing.T) (bin, modules string) {
	t.Helper()
	return rpharness.ApacheBinaries(t, rpharness.Require, "Debian: libapache2-mod-auth-openidc", "mod_auth_openidc.so", "mod_proxy_http.so")
}

// apacheClient registers Apache at the bridge: a confidential first-party client with the
// module's redirect URI, a signed-out page and its back-channel logout hook.
func apacheClient(base string) config.Client {
	return config.Client{ID: "apache", Name: "Members' area (Apache)", Secret: apacheSecret, Trusted: true,
		RedirectURIs:           []string{base + "/secure/redirect_uri"},
		PostLogoutRedirectURIs: []string{base + "/public/signed-out"},
		BackchannelLogoutURI:   base + "/secure/redirect_uri?logout=backchannel",
		AllowInternalTargets:   true} // Apache listens on 127.0.0.1
}

// apacheConf is mod_auth_openidc's part of httpd.conf, after rpharness.ApacheHead.
var apacheConf = rpharness.ApacheConfig("httpd.conf", `
LoadModule proxy_module "{{.Modules}}/mod_proxy.so"
LoadModule proxy_http_module "{{.Modules}}/mod_proxy_http.so"
LoadModule auth_openidc_module "{{.Modules}}/mod_auth_openidc.so"

OIDCProviderMetadataURL {{.Issuer}}/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret {{.Secret}}
OIDCRedirectURI {{.Base}}/secure/redirect_uri
OIDCCryptoPassphrase {{.Passphrase}}
OIDCScope "openid profile email roles offline_access"
# The refresh token is passed to the app as OIDC_refresh_token, so that the test can see rotation.
OIDCPassRefreshToken On
# Nothing else is needed for the plain-http loopback issuer and redirect URI: the module only
# warns that they SHOULD be https, and marks its cookies Secure only on https requests.

# The module's redirect URI (callback, logout, refresh and info hooks) is answered by the module
# itself, never proxied; everything else under /secure/ needs a session and goes to the app.
ProxyPass /secure/redirect_uri !
ProxyPass /secure/ {{.Upstream}}/secure/
ProxyPass /public/ {{.Upstream}}/public/
<Location /secure/>
	AuthType openid-connect
	Require valid-user
</Location>
`)

// startBridgeAndApache starts a bridge with client(base) registered and httpd at base, on a
// port from FreePort. httpd must be told its port, which is free only until someone takes it:
// when another process got it first (seen on shared machines: the test then talked to that
// process, or to nothing once it went, "connection refused"), it starts over on a new port.
func startBridgeAndApache(t *testing.T, bin, modules string, up *rpharness.Upstream, client func(base string) config.Client) (*rpharness.Bridge, *apacheRP) {
	t.Helper()
	var err error
	for range 3 {
		port := rpharness.FreePort(t)
		b := rpharness.StartBridge(t, []config.Client{client("http://127.0.0.1:" + strconv.Itoa(port))})
		var a *apacheRP
		if a, err = startApache(t, bin, modules, port, b, up); err == nil {
			return b, a
		}
		if !errors.Is(err, rpharness.ErrPortTaken) {
			t.Fatal(err)
		}
		t.Logf("port %d: %v; starting over on another port", port, err)
	}
	t.Fatal(err)
	return nil, nil
}

// startApache runs httpd -DFOREGROUND with mod_auth_openidc on port, the bridge as provider,
// in front of up, and waits until it serves; rpharness.ErrPortTaken if another process holds
// the port.
func startApache(t *testing.T, bin, modules string, port int, b *rpharness.Bridge, up *rpharness.Upstream) (*apacheRP, error) {
	t.Helper()
	a := rpharness.NewApache(t, "ssobridge-apache-", modules, "warn auth_openidc:info", port)
	p, err := a.Start(t, "apache2", bin, apacheConf, map[string]any{"Issuer": b.Issuer, "Secret": apacheSecret, "Base": a.Base,
		"Passphrase": rpharness.RandomHex(16), "Upstream": up.URL}, nil)
	if err != nil {
		return nil, err
	}
	return &apacheRP{URL: a.Base, Redirect: a.Base + "/secure/redirect_uri", Process: p}, nil
}

// TestApacheModAuthOpenIDC: Apache httpd with mod_auth_openidc (Debian) protects an app; the
// member signs in through the bridge's real login page in Chromium; then refresh, RP-initiated
// logout and back-channel logout.
func TestApacheModAuthOpenIDC(t *testing.T) {
	bin, modules := apacheBinaries(t)
	up := rpharness.StartUpstream(t)
	b, apache := startBridgeAndApache(t, bin, modules, up, apacheClient)
	ctx := rpharness.NewChrome(t)

	// Each subtest's name says what it proved; a step that later ones depend on stops the test.
	var r *http.Request
	claim := func(name string) string { return r.Header.Get("OIDC_CLAIM_" + name) }
	// The code flow includes the module's token endpoint call and its ID token signature and
	// nonce checks.
	if !t.Run("anonymous visit goes to the bridge's login page, sign-in completes the code flow and serves the page", func(t *testing.T) {
		rpharness.SignIn(t, ctx, b, apache.URL+"/secure/page", rpharness.StaffLogin, rpharness.StaffPassword)
		r = rpharness.WaitUpstream(t, ctx, up, "sign-in through mod_auth_openidc")
		if r.URL.Path != "/secure/page" {
			t.Errorf("upstream got %s, want /secure/page", r.URL.Path)
		}
	}) {
		return
	}
	t.Run("OIDC_CLAIM_email, preferred_username and sub are the member's", func(t *testing.T) {
		if claim("email") != rpharness.StaffEmail || claim("preferred_username") != rpharness.StaffLogin || claim("sub") == "" {
			t.Errorf("claims: email %q, preferred_username %q, sub %q", claim("email"), claim("preferred_username"), claim("sub"))
		}
	})
	at, rt := r.Header.Get("OIDC_access_token"), r.Header.Get("OIDC_refresh_token")
	if !t.Run("the module's access token is live for the same sub, and it holds a refresh token", func(t *testing.T) {
		if status, info := b.Userinfo(t, at); status != http.StatusOK || info["sub"] != claim("sub") {
			t.Errorf("the module's access token at userinfo: %d %v (sub %q)", status, info, claim("sub"))
		}
		if rt == "" {
			t.Errorf("no refresh token in the module's session (offline_access was asked for)")
		}
	}) {
		return
	}
	t.Run("OIDC_CLAIM_roles are the member's live AMS roles", func(t *testing.T) {
		// The module joins a JSON array with ",".
		if got, want := rpharness.HeaderList(r.Header, "OIDC_CLAIM_roles"), staffRoles(t, b); !slices.Equal(got, want) {
			t.Errorf("OIDC_CLAIM_roles %q, want %q", r.Header.Get("OIDC_CLAIM_roles"), want)
		}
	})
	t.Run("OIDC_CLAIM_email_verified is sent, as false", func(t *testing.T) {
		// The AMS does not verify addresses. mod_auth_openidc passes JSON booleans as "0"/"1".
		if got, ok := r.Header["Oidc_claim_email_verified"]; !ok || got[0] != "0" {
			t.Errorf("OIDC_CLAIM_email_verified %q, want false", got)
		}
	})
	t.Run("the code-flow ID token has no c_hash and no client_id", func(t *testing.T) {
		// c_hash belongs to ID tokens from the authorization endpoint; aud and azp name the app.
		for _, c := range []string{"c_hash", "client_id"} {
			if v, ok := r.Header["Oidc_claim_"+c]; ok {
				t.Errorf("ID token has %s %q", c, v)
			}
		}
	})

	// The module's refresh hook redeems the refresh token at the bridge and returns to the page.
	if !t.Run("refresh: tokens renewed and rotated, the new access token live, claims kept", func(t *testing.T) {
		refresh := apache.Redirect + "?" + url.Values{"refresh": {apache.URL + "/secure/after-refresh"}, "access_token": {at}}.Encode()
		n := up.Count()
		if err := chromedp.Do(ctx, chromedp.Navigate(refresh)); err != nil {
			t.Fatal(err)
		}
		r2 := rpharness.WaitUpstream(t, ctx, up, "refresh hook")
		if up.Count() != n+1 || r2.URL.Path != "/secure/after-refresh" {
			t.Fatalf("refresh hook did not return to the page (upstream at %s)", r2.URL.Path)
		}
		at2, rt2 := r2.Header.Get("OIDC_access_token"), r2.Header.Get("OIDC_refresh_token")
		if at2 == at || rt2 == rt || at2 == "" || rt2 == "" {
			t.Fatalf("refresh did not renew the tokens (access token renewed %v, refresh token rotated %v)", at2 != at, rt2 != rt)
		}
		if status, info := b.Userinfo(t, at2); status != http.StatusOK || info["sub"] != claim("sub") {
			t.Fatalf("refreshed access token at userinfo: %d %v", status, info)
		}
		if r2.Header.Get("OIDC_CLAIM_email") != rpharness.StaffEmail {
			t.Errorf("after refresh the app lost the claims: email %q", r2.Header.Get("OIDC_CLAIM_email"))
		}
	}) {
		return
	}

	// The module's logout hook ends its own session and sends the browser to the bridge's
	// end_session_endpoint with id_token_hint and post_logout_redirect_uri; the bridge signs out
	// at once (no confirmation: the hint names this browser's member) and returns there.
	if !t.Run("RP-initiated logout ends both sessions and returns to the registered page", func(t *testing.T) {
		signedOut := apache.URL + "/public/signed-out"
		if err := chromedp.Do(ctx, chromedp.Navigate(apache.Redirect+"?"+url.Values{"logout": {signedOut}}.Encode())); err != nil {
			t.Fatal(err)
		}
		if err := rpharness.WaitJS(ctx, `location.href == "`+signedOut+`" && !!document.getElementById("upstream")`); err != nil {
			t.Fatalf("RP-initiated logout did not end on %s: %v (browser at %s: %.300s)", signedOut, err, rpharness.Location(ctx), rpharness.BodyText(ctx))
		}
		// Both sessions gone: the protected page asks for the password again (SignIn checks
		// that the login form shows), no silent sign-in.
		rpharness.SignIn(t, ctx, b, apache.URL+"/secure/again", rpharness.StaffLogin, rpharness.StaffPassword)
		rpharness.WaitUpstream(t, ctx, up, "second sign-in")
	}) {
		return
	}

	// Sign out at the bridge itself (not through Apache): the bridge POSTs a logout token to the
	// module's back-channel hook, which checks it (signature, iss, aud, events, sid) and ends the
	// session it names, so the Apache session cookie the browser still holds opens nothing.
	t.Run("back-channel logout from the bridge ends the Apache session", func(t *testing.T) {
		n := up.Count()
		// mod_auth_openidc's own revocation at RP-initiated logout already drew one back-channel
		// logout (for a session it had ended itself): count from here.
		const accepted = "access POST /secure/redirect_uri?logout=backchannel 200"
		const notFound = "could not (or no longer) find a session"
		before, notFoundBefore := strings.Count(apache.Output.String(), accepted), strings.Count(apache.Output.String(), notFound)
		err := chromedp.Do(ctx,
			chromedp.Navigate(b.Issuer+"/logout"),
			chromedp.Click(css("button[type=submit].primary")),
			chromedp.WaitVisible(css("#signed-out")),
		)
		if err != nil {
			t.Fatalf("sign out at the bridge: %v (at %s)", err, rpharness.Location(ctx))
		}
		delivered := func() bool { return strings.Count(apache.Output.String(), accepted) > before }
		if err := rpharness.Eventually(delivered); err != nil {
			t.Fatalf("no back-channel logout accepted by mod_auth_openidc: %v", err)
		}
		// The module answers 200 also to a logout token naming no session it knows: it must
		// have found this one (by the sid of the ID token it holds).
		if strings.Count(apache.Output.String(), notFound) != notFoundBefore {
			t.Fatalf("mod_auth_openidc found no session for the bridge's logout token (sid/sub mismatch)")
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(apache.URL+"/secure/again"), chromedp.WaitVisible(css("#login"))); err != nil {
			t.Fatalf("after back-channel logout the protected page did not ask for sign-in: %v (at %s)", err, rpharness.Location(ctx))
		}
		if up.Count() != n {
			t.Fatalf("the app was reached after back-channel logout")
		}
	})
}

// TestApacheFrontChannelLogout: Apache registered with a front-channel logout URI (the module's
// redirect URI with logout=get) and no back-channel one.
func TestApacheFrontChannelLogout(t *testing.T) {
	bin, modules := apacheBinaries(t)
	up := rpharness.StartUpstream(t)
	b, apache := startBridgeAndApache(t, bin, modules, up, func(base string) config.Client {
		client := apacheClient(base)
		client.BackchannelLogoutURI = ""
		client.FrontchannelLogoutURI = client.RedirectURIs[0] + "?logout=get"
		return client
	})
	ctx := rpharness.NewChrome(t)
	frontChannel := func() int { return strings.Count(apache.Output.String(), "&logout=get&") }

	// The bridge's signed-out page loads the module's front-channel URI (with iss and sid) in a
	// frame; the module ends the session of the browser's cookie.
	if !t.Run("signing out at the bridge ends the Apache session through the front-channel frame", func(t *testing.T) {
		rpharness.SignIn(t, ctx, b, apache.URL+"/secure/page", rpharness.StaffLogin, rpharness.StaffPassword)
		rpharness.WaitUpstream(t, ctx, up, "sign-in")
		n, before := up.Count(), frontChannel()
		err := chromedp.Do(ctx,
			chromedp.Navigate(b.Issuer+"/logout"),
			chromedp.Click(css("button[type=submit].primary")),
		)
		if err != nil {
			t.Fatalf("sign out at the bridge: %v (at %s)", err, rpharness.Location(ctx))
		}
		if err := rpharness.Eventually(func() bool { return frontChannel() > before }); err != nil {
			t.Fatalf("the signed-out page never loaded the module's front-channel logout URI")
		}
		// The signed-out page goes on by itself once its frames have loaded: let it finish.
		if err := rpharness.WaitJS(ctx, `location.href == "`+b.Issuer+`/logout/done"`); err != nil {
			t.Fatalf("the bridge's signed-out page did not go on to /logout/done: %v (at %s)", err, rpharness.Location(ctx))
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(apache.URL+"/secure/page"), chromedp.WaitVisible(css("#login"))); err != nil {
			t.Fatalf("after front-channel logout the protected page did not ask for sign-in: %v (at %s)", err, rpharness.Location(ctx))
		}
		if up.Count() != n {
			t.Fatalf("the app was reached after front-channel logout")
		}
	}) {
		return
	}

	// Issue 11 item 9: with front-channel frames to load, the bridge's signed-out page goes on
	// to the validated post_logout_redirect_uri by itself (no Continue click).
	t.Run("RP-initiated logout with a front-channel URI returns to the registered page by itself", func(t *testing.T) {
		rpharness.SignIn(t, ctx, b, apache.URL+"/secure/page", rpharness.StaffLogin, rpharness.StaffPassword)
		rpharness.WaitUpstream(t, ctx, up, "sign-in")
		signedOut := apache.URL + "/public/signed-out"
		if err := chromedp.Do(ctx, chromedp.Navigate(apache.Redirect+"?"+url.Values{"logout": {signedOut}}.Encode())); err != nil {
			t.Fatal(err)
		}
		if err := rpharness.WaitJS(ctx, `location.href == "`+signedOut+`" && !!document.getElementById("upstream")`); err != nil {
			t.Fatalf("RP-initiated logout did not end on %s: %v (browser at %s: %.300s)", signedOut, err, rpharness.Location(ctx), rpharness.BodyText(ctx))
		}
	})
}

// TestApachePortTakenIsDetected: when another process holds the port httpd was told (a port
// from FreePort is free only until someone takes it), its answer does not pass for httpd's
// readiness: startApache reports rpharness.ErrPortTaken, and the tests start over on a new port.
func TestApachePortTakenIsDetected(t *testing.T) {
	bin, modules := apacheBinaries(t)
	up := rpharness.StartUpstream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: http.NotFoundHandler()}
	go other.Serve(ln)
	t.Cleanup(func() { other.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	b := rpharness.StartBridge(t, []config.Client{apacheClient("http://127.0.0.1:" + strconv.Itoa(port))})
	if _, err := startApache(t, bin, modules, port, b, up); !errors.Is(err, rpharness.ErrPortTaken) {
		t.Fatalf("httpd on a port another process holds: %v, want ErrPortTaken", err)
	}
}
