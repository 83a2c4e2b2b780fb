package bridge_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/ssotest"
)

// A client id and secret with every character RFC 6749 2.3.1 clients form-urlencode in Basic
// credentials, as Auth.js/NextAuth portals have them.
const (
	nextID     = "next_auth-app.v1~x"
	nextSecret = "s3cr3t-_.~!*'()+/=%&: with space 0123456789abcdef"
)

// basicXOAuth2 builds it as golang.org/x/oauth2's AuthStyleInHeader does.
func basicXOAuth2(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func lenientThrottle(c *bridge.Config) { c.Throttle.PerLogin, c.Throttle.PerIP = 100, 1000 }

func withNextAuthClient(cfg *bridge.Config) {
	cfg.Tokens.DeviceInterval = 1e9
	cfg.Clients = append(cfg.Clients, config.Client{ID: nextID, Name: "Next Portal", Secret: nextSecret, Trusted: true,
		RedirectURIs: []string{"http://127.0.0.1:9/app/next"},
		GrantTypes:   []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantDeviceCode}})
}

func postRaw(t *testing.T, u string, form url.Values, authz string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return doJSON(t, req)
}

// TestClientAuthFormEncodedBasic: RFC 6749 2.3.1 Basic credentials are form-urlencoded by the
// client; every endpoint decodes both parts (oauth4webapi and x/oauth2 encodings), and accepts
// client_secret_post too.
func TestClientAuthFormEncodedBasic(t *testing.T) {
	e := newEnv(t, withNextAuthClient)
	for _, style := range []struct {
		name  string
		authz func(id, secret string) string
	}{
		{"oauth4webapi", ssotest.OAuth4WebAPIBasic},
		{"x/oauth2", basicXOAuth2},
		{"client_secret_post", nil},
	} {
		t.Run(style.name, func(t *testing.T) {
			send := func(path string, form url.Values) (*http.Response, map[string]any) {
				t.Helper()
				if style.authz == nil {
					form.Set("client_id", nextID)
					form.Set("client_secret", nextSecret)
					return postRaw(t, e.issuer+path, form, "")
				}
				return postRaw(t, e.issuer+path, form, style.authz(nextID, nextSecret))
			}
			cfg, _ := e.oauth(nextID, nextSecret, "http://127.0.0.1:9/app/next", oauth2.AuthStyleInHeader)
			code := e.signIn(e.browser(), cfg.AuthCodeURL("st"), "alice", "alice-password")
			resp, tok := send("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {"http://127.0.0.1:9/app/next"}})
			if resp.StatusCode != 200 || tok["access_token"] == nil || tok["refresh_token"] == nil {
				t.Fatalf("code exchange: %d %v", resp.StatusCode, tok)
			}
			resp, tok2 := send("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
			if resp.StatusCode != 200 || tok2["access_token"] == nil {
				t.Fatalf("refresh: %d %v", resp.StatusCode, tok2)
			}
			resp, in := send("/oauth/introspect", url.Values{"token": {tok2["access_token"].(string)}})
			if resp.StatusCode != 200 || in["active"] != true || in["client_id"] != nextID {
				t.Fatalf("introspection: %d %v", resp.StatusCode, in)
			}
			resp, body := send("/revoke", url.Values{"token": {tok2["refresh_token"].(string)}})
			if resp.StatusCode != 200 {
				t.Fatalf("revocation: %d %v", resp.StatusCode, body)
			}
			resp, in = send("/oauth/introspect", url.Values{"token": {tok2["access_token"].(string)}})
			if resp.StatusCode != 200 || in["active"] != false {
				t.Fatalf("introspection after revocation: %d %v", resp.StatusCode, in)
			}
			resp, da := send("/device_authorization", url.Values{"scope": {"openid"}})
			if resp.StatusCode != 200 || da["device_code"] == nil {
				t.Fatalf("device authorization: %d %v", resp.StatusCode, da)
			}
			resp, body = send("/oauth/token", url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {da["device_code"].(string)}})
			wantOAuthError(t, resp, body, http.StatusBadRequest, "authorization_pending")
		})
	}
	// Malformed percent-encoding is a failed client authentication, never a server error.
	for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke", "/device_authorization"} {
		bad := "Basic " + base64.StdEncoding.EncodeToString([]byte(nextID+":%zz"))
		resp, body := postRaw(t, e.issuer+path, url.Values{"token": {"x"}}, bad)
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
	}
}

// TestClientAuthComesFirst: a wrong secret with a bogus (or a real) code is 401 invalid_client
// with a challenge, and the real code is neither consumed nor its replay detection triggered.
func TestClientAuthComesFirst(t *testing.T) {
	e := newEnv(t, lenientThrottle)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")
	for _, tc := range []struct {
		name  string
		form  url.Values
		authz string
	}{
		{"basic, bogus code", url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "redirect_uri": {e.rp + "/callback"}}, basicXOAuth2("web", "wrong")},
		{"post, bogus code", url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "redirect_uri": {e.rp + "/callback"}, "client_id": {"web"}, "client_secret": {"wrong"}}, ""},
		{"basic, real code", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + "/callback"}}, basicXOAuth2("web", "wrong")},
		{"post, real code", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + "/callback"}, "client_id": {"web"}, "client_secret": {"wrong"}}, ""},
		{"no secret, real code", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + "/callback"}, "client_id": {"web"}}, ""},
		{"bogus refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"bogus"}}, basicXOAuth2("web", "wrong")},
		{"unknown client", url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "redirect_uri": {e.rp + "/callback"}}, basicXOAuth2("nobody", "wrong")},
	} {
		resp, body := postRaw(t, tokenURL(e), tc.form, tc.authz)
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("%s: 401 without a Basic challenge", tc.name)
		}
	}
	// The real code still works for the real client.
	if _, err := web.Exchange(e.ctx(), code); err != nil {
		t.Fatalf("the code was spent by unauthenticated attempts: %v", err)
	}
	// Two methods at once are refused (RFC 6749 2.3).
	resp, body := postRaw(t, tokenURL(e), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_secret": {webSecret}},
		basicXOAuth2("web", webSecret))
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_request")
}

// TestEveryAPIErrorIsJSON: each API endpoint answers each client-authentication failure as RFC
// 6749 5.2 JSON (introspection answered text/plain), and the failures are audited with the IP.
func TestEveryAPIErrorIsJSON(t *testing.T) {
	e := grantEnv(t, lenientThrottle)
	for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke", "/device_authorization"} {
		for _, tc := range []struct {
			name  string
			form  url.Values
			authz string
			code  string
		}{
			{"wrong basic secret", url.Values{"token": {"x"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}, basicXOAuth2("web", "wrong"), "invalid_client"},
			{"wrong post secret", url.Values{"token": {"x"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"web"}, "client_secret": {"wrong"}}, "", "invalid_client"},
			{"no client", url.Values{"token": {"x"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "", "invalid_client"},
			{"unknown client", url.Values{"token": {"x"}, "client_id": {"nobody"}, "client_secret": {"x"}}, "", "invalid_client"},
			{"malformed basic", url.Values{"token": {"x"}}, "Basic !!!", "invalid_client"},
		} {
			resp, body := postRaw(t, e.issuer+path, tc.form, tc.authz)
			if resp.StatusCode != http.StatusUnauthorized || body["error"] != tc.code {
				t.Fatalf("%s %s: %d %v", path, tc.name, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%s %s: content type %q", path, tc.name, ct)
			}
		}
	}
	ev, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "client.auth_failure"})
	if err != nil || len(ev) == 0 {
		t.Fatalf("client authentication failures not audited: %v %v", ev, err)
	}
	for _, x := range ev {
		if x.IP != "127.0.0.1" {
			t.Fatalf("audit row without the client IP: %+v", x)
		}
	}
	// A public client may not introspect, with either method.
	resp, body := postRaw(t, e.issuer+"/oauth/introspect", url.Values{"token": {"x"}, "client_id": {"mobile"}}, "")
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
	resp, body = postRaw(t, e.issuer+"/oauth/introspect", url.Values{"token": {"x"}}, basicXOAuth2("mobile", ""))
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
}

// TestClientAuthThrottled: repeated client authentication failures from one IP are refused with
// 429 and Retry-After, even with the right secret afterwards; other clients are unaffected.
func TestClientAuthThrottled(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) { c.Throttle.PerLogin = 3 })
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	for i := 0; i < 3; i++ {
		resp, body := postRaw(t, tokenURL(e), form, basicXOAuth2("web", fmt.Sprint("wrong", i)))
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
	}
	resp, body := postRaw(t, tokenURL(e), form, basicXOAuth2("web", webSecret))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || body["error"] == nil {
		t.Fatalf("after 3 failures: %d %v", resp.StatusCode, body)
	}
	resp, body = postRaw(t, e.issuer+"/oauth/introspect", url.Values{"token": {"x"}}, basicXOAuth2("other", otherSecret))
	if resp.StatusCode != 200 {
		t.Fatalf("another client throttled: %d %v", resp.StatusCode, body)
	}
	if ev, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "client.throttled"}); len(ev) == 0 || ev[0].IP == "" {
		t.Fatalf("throttled client authentication not audited with its IP: %+v", ev)
	}
}

// TestDiscoveryAuthMethods: discovery advertises exactly the client authentication methods
// each endpoint accepts.
func TestDiscoveryAuthMethods(t *testing.T) {
	e := newEnv(t)
	_, d := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	want := map[string][]string{
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
	}
	for k, w := range want {
		var got []string
		l, _ := d[k].([]any)
		for _, v := range l {
			got = append(got, v.(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Fatalf("%s = %v, want %v", k, got, w)
		}
	}
}
