package rp

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

// The openid-client RPs' credentials hold '-', '_', '.' and '~': oauth4webapi form-urlencodes
// all four in the Basic header (RFC 6749 2.3.1), so "next_auth-app.v2~basic" travels as
// "next%5Fauth%2Dapp%2Ev2%7Ebasic".
const (
	ocSecret = "next_auth-secret.0123456789~abcdefABCDEF-xyz_"
	ocScope  = "openid profile email roles offline_access"
)

var ocMethods = []struct{ method, clientID string }{
	{"client_secret_basic", "next_auth-app.v2~basic"},
	{"client_secret_post", "next_auth-app.v2~post"},
}

// ocStep is one protocol call of the RP: its value, or the error openid-client raised.
type ocStep[T any] struct {
	OK    bool     `json:"ok"`
	Value T        `json:"value"`
	Error *ocError `json:"error"`
}

type ocError struct {
	Name             string `json:"name"`
	Message          string `json:"message"`
	Code             string `json:"code"`
	Error            string `json:"error"`
	Status           int    `json:"status"`
	ErrorDescription string `json:"error_description"`
}

func (s ocStep[T]) failure() string {
	if s.Error == nil {
		return "not run"
	}
	b, _ := json.Marshal(s.Error)
	return string(b)
}

type ocTokens struct {
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	IDToken      string         `json:"id_token"`
	TokenType    string         `json:"token_type"`
	ExpiresIn    *float64       `json:"expires_in"`
	Scope        string         `json:"scope"`
	Claims       map[string]any `json:"claims"`
}

// ocRequest is one request openid-client sent to the bridge, with the client credentials as
// they went on the wire (the Basic header's parts only base64-decoded).
type ocRequest struct {
	Method           string  `json:"method"`
	Path             string  `json:"path"`
	BasicID          *string `json:"basic_id"`
	BasicSecret      *string `json:"basic_secret"`
	FormClientID     *string `json:"form_client_id"`
	FormClientSecret *string `json:"form_client_secret"`
}

// formURLEncode is RFC 6749 2.3.1's encoding of a Basic credential (application/
// x-www-form-urlencoded, as oauth4webapi does it: '-', '_', '.' and '~' too).
func formURLEncode(s string) string {
	return strings.NewReplacer("-", "%2D", "_", "%5F", ".", "%2E", "~", "%7E").Replace(url.QueryEscape(s))
}

// ocReport is what the openid-client RP received (node/openid-client-rp.mjs).
type ocReport struct {
	ClientID                string                  `json:"client_id"`
	AuthMethod              string                  `json:"auth_method"`
	CallbackIss             string                  `json:"callback_iss"`
	Error                   string                  `json:"error"`
	Code                    ocStep[ocTokens]        `json:"code"`
	Userinfo                ocStep[map[string]any]  `json:"userinfo"`
	Refresh                 ocStep[ocTokens]        `json:"refresh"`
	IntrospectAccess        ocStep[map[string]any]  `json:"introspect_access"`
	IntrospectRefresh       ocStep[map[string]any]  `json:"introspect_refresh"`
	RevokeAccess            ocStep[json.RawMessage] `json:"revoke_access"`
	IntrospectRevokedAccess ocStep[map[string]any]  `json:"introspect_revoked_access"`
	RevokeRefresh           ocStep[json.RawMessage] `json:"revoke_refresh"`
	RefreshAfterRevoke      ocStep[ocTokens]        `json:"refresh_after_revoke"`
	RefreshReuse            ocStep[ocTokens]        `json:"refresh_reuse"`
	EndSessionURL           ocStep[string]          `json:"end_session_url"`
	EndSessionUnregistered  ocStep[string]          `json:"end_session_url_unregistered"`
	Requests                []ocRequest             `json:"requests"`
}

// TestOpenIDClient: openid-client 6 (node), a server-side RP such as an Auth.js/NextAuth portal,
// signs the demo staff member in through the real login page with each client authentication
// method, and reports every token and answer it received.
func TestOpenIDClient(t *testing.T) {
	node, dir := nodePackages(t)
	ctx := rpharness.NewChrome(t)

	var clients []config.Client
	origins := map[string]string{}
	listeners := map[string]*net.TCPListener{}
	for _, m := range ocMethods {
		ln, origin := listen(t)
		origins[m.method], listeners[m.method] = origin, ln
		clients = append(clients, config.Client{ID: m.clientID, Name: "Portal (openid-client, " + m.method + ")",
			Secret: ocSecret, Trusted: true,
			RedirectURIs: []string{origin + "/callback"}, PostLogoutRedirectURIs: []string{origin + "/signed-out"}})
	}
	b := rpharness.StartBridge(t, clients)

	for _, m := range ocMethods {
		t.Run(m.method, func(t *testing.T) {
			origin := origins[m.method]
			startNode(t, "openid-client RP ("+m.method+")", node, dir, "openid-client-rp.mjs", listeners[m.method], origin,
				"RP_ISSUER="+b.Issuer, "RP_BASE="+origin, "RP_CLIENT_ID="+m.clientID, "RP_CLIENT_SECRET="+ocSecret,
				"RP_AUTH_METHOD="+m.method, "RP_SCOPE="+ocScope)
			authz := recordAuthorize(t, ctx, b.Issuer)
			rpharness.SignIn(t, ctx, b, origin+"/start", rpharness.StaffLogin, rpharness.StaffPassword)
			r := &ocReport{}
			readReport(t, ctx, "the RP", r)
			t.Run("authorization request: response_type code with an S256 PKCE challenge, as openid-client built it", func(t *testing.T) {
				authz.checkPKCE(t, m.clientID)
			})
			t.Run("authorization response (RFC 9207): iss names the bridge", func(t *testing.T) {
				if r.CallbackIss != b.Issuer {
					t.Fatalf("iss in the authorization response %q, want %q", r.CallbackIss, b.Issuer)
				}
			})
			checkOpenIDClient(t, ctx, b, m.clientID, origin, r)
		})
	}
}

func (r *ocReport) callbackError() string { return r.Error }

// checkOpenIDClient asserts what the openid-client RP received, one subtest per proof.
func checkOpenIDClient(t *testing.T, ctx context.Context, b *rpharness.Bridge, clientID, origin string, r *ocReport) {
	if !r.Code.OK {
		t.Fatalf("code flow with PKCE failed in openid-client (%s): %s", r.AuthMethod, r.Code.failure())
	}
	code := r.Code.Value
	idt := code.Claims
	t.Run("code flow with PKCE: openid-client validated the ID token (signature, iss, aud, nonce, state) and got access and refresh tokens", func(t *testing.T) {
		if code.AccessToken == "" || code.RefreshToken == "" || code.IDToken == "" {
			t.Fatalf("tokens missing: access %t, refresh %t, id %t", code.AccessToken != "", code.RefreshToken != "", code.IDToken != "")
		}
		if !strings.EqualFold(code.TokenType, "bearer") || code.ExpiresIn == nil || *code.ExpiresIn <= 0 {
			t.Fatalf("token_type %q, expires_in %v", code.TokenType, code.ExpiresIn)
		}
		if idt["iss"] != b.Issuer || !audHas(idt["aud"], clientID) || idt["sub"] == "" || idt["sub"] == nil {
			t.Fatalf("ID token iss %v, aud %v, sub %v", idt["iss"], idt["aud"], idt["sub"])
		}
		for _, s := range strings.Fields(ocScope) {
			if !slices.Contains(strings.Fields(code.Scope), s) {
				t.Fatalf("granted scope %q lacks %s", code.Scope, s)
			}
		}
		t.Logf("%s with client id %q: the token endpoint accepted openid-client's credentials", r.AuthMethod, clientID)
	})
	authCheck := map[string]string{
		"client_secret_basic": "client authentication: every token, introspection and revocation request sent client_secret_basic alone, id and secret form-urlencoded (RFC 6749 2.3.1), and the bridge accepted it",
		"client_secret_post":  "client authentication: every token, introspection and revocation request sent client_secret_post alone (form fields, no Authorization header), and the bridge accepted it",
	}[r.AuthMethod]
	t.Run(authCheck, func(t *testing.T) {
		seen := map[string]int{}
		for _, q := range r.Requests {
			if q.Method != "POST" {
				continue
			}
			seen[q.Path]++
			switch r.AuthMethod {
			case "client_secret_basic":
				if q.BasicID == nil || *q.BasicID != formURLEncode(clientID) || *q.BasicSecret != formURLEncode(ocSecret) ||
					q.FormClientSecret != nil {
					t.Fatalf("%s: Basic %v, form client_secret present %t; want Basic %s:<encoded secret> only", q.Path, deref(q.BasicID), q.FormClientSecret != nil, formURLEncode(clientID))
				}
			case "client_secret_post":
				if q.BasicID != nil || deref(q.FormClientID) != clientID || deref(q.FormClientSecret) != ocSecret {
					t.Fatalf("%s: Basic present %t, form client_id %q; want the form fields only", q.Path, q.BasicID != nil, deref(q.FormClientID))
				}
			}
		}
		for name, ok := range map[string]bool{"refresh": r.Refresh.OK, "introspection": r.IntrospectAccess.OK,
			"revocation": r.RevokeAccess.OK && r.RevokeRefresh.OK} {
			if !ok {
				t.Fatalf("the %s request failed", name)
			}
		}
		for _, p := range []string{"/oauth/token", "/oauth/introspect", "/revoke"} {
			if seen[p] == 0 {
				t.Fatalf("no request to %s recorded (saw %v)", p, seen)
			}
		}
		if r.AuthMethod == "client_secret_basic" {
			t.Logf("the Basic header carried the client id as %s", formURLEncode(clientID))
		}
	})
	t.Run("ID token: the member's email", func(t *testing.T) {
		if idt["email"] != rpharness.StaffEmail {
			t.Fatalf("email %v, want %s", idt["email"], rpharness.StaffEmail)
		}
	})
	t.Run("ID token: email_verified is sent, false (the AMS does not verify addresses)", func(t *testing.T) {
		if v, ok := idt["email_verified"]; !ok || v != false {
			t.Fatalf("email_verified %v (present %t), want false", v, ok)
		}
	})
	t.Run("ID token and userinfo: the member's live roles from the AMS (roles scope)", func(t *testing.T) {
		want := b.LiveRoles(t, rpharness.StaffLogin)
		if got := strList(idt["roles"]); !slices.Equal(got, want) {
			t.Fatalf("ID token roles %v, want %v", idt["roles"], want)
		}
		if got := strList(r.Userinfo.Value["roles"]); !slices.Equal(got, want) {
			t.Fatalf("userinfo roles %v, want %v", r.Userinfo.Value["roles"], want)
		}
		t.Logf("openid-client received roles %q", want)
	})
	t.Run("ID token from the code flow: no c_hash, no client_id claim", func(t *testing.T) {
		for _, c := range []string{"c_hash", "client_id"} {
			if v, ok := idt[c]; ok {
				t.Fatalf("ID token carries %s = %v", c, v)
			}
		}
	})
	t.Run("userinfo (bearer access token): same subject, email and name", func(t *testing.T) {
		if !r.Userinfo.OK {
			t.Fatalf("userinfo: %s", r.Userinfo.failure())
		}
		u := r.Userinfo.Value
		if u["sub"] != idt["sub"] || u["email"] != rpharness.StaffEmail || u["name"] != "Stacy Staff" {
			t.Fatalf("userinfo %v", u)
		}
	})
	t.Run("refresh: new access token and a rotated refresh token for the same member", func(t *testing.T) {
		if !r.Refresh.OK {
			t.Fatalf("refresh: %s", r.Refresh.failure())
		}
		n := r.Refresh.Value
		if n.AccessToken == "" || n.AccessToken == code.AccessToken || n.RefreshToken == "" || n.RefreshToken == code.RefreshToken {
			t.Fatalf("refresh did not issue new tokens (access new %t, refresh rotated %t)",
				n.AccessToken != code.AccessToken, n.RefreshToken != "" && n.RefreshToken != code.RefreshToken)
		}
		if n.Claims != nil && n.Claims["sub"] != idt["sub"] {
			t.Fatalf("refreshed ID token sub %v, want %v", n.Claims["sub"], idt["sub"])
		}
	})
	t.Run("introspection (RFC 7662): the live access token is active, for this client, member and scope", func(t *testing.T) {
		if !r.IntrospectAccess.OK {
			t.Fatalf("introspect: %s", r.IntrospectAccess.failure())
		}
		v := r.IntrospectAccess.Value
		if v["active"] != true || v["client_id"] != clientID || v["sub"] != idt["sub"] ||
			!slices.Contains(strings.Fields(str(v["scope"])), "openid") {
			t.Fatalf("introspection answer %v", v)
		}
	})
	t.Run("revocation (RFC 7009): a revoked access token introspects inactive", func(t *testing.T) {
		if !r.RevokeAccess.OK {
			t.Fatalf("revoke access token: %s", r.RevokeAccess.failure())
		}
		if !r.IntrospectRevokedAccess.OK || r.IntrospectRevokedAccess.Value["active"] != false {
			t.Fatalf("introspect revoked access token: %v %s", r.IntrospectRevokedAccess.Value, r.IntrospectRevokedAccess.failure())
		}
	})
	t.Run("revocation (RFC 7009): a revoked refresh token is refused with invalid_grant", func(t *testing.T) {
		if !r.RevokeRefresh.OK {
			t.Fatalf("revoke refresh token: %s", r.RevokeRefresh.failure())
		}
		if r.RefreshAfterRevoke.OK || r.RefreshAfterRevoke.Error == nil || r.RefreshAfterRevoke.Error.Error != "invalid_grant" {
			t.Fatalf("refresh with the revoked token: ok %t, %s", r.RefreshAfterRevoke.OK, r.RefreshAfterRevoke.failure())
		}
	})
	t.Run("rotation: the spent first refresh token is refused with invalid_grant", func(t *testing.T) {
		if r.RefreshReuse.OK || r.RefreshReuse.Error == nil || r.RefreshReuse.Error.Error != "invalid_grant" {
			t.Fatalf("refresh with the spent token: ok %t, %s", r.RefreshReuse.OK, r.RefreshReuse.failure())
		}
	})
	t.Run("RP-initiated logout: openid-client's end_session URL returns to the registered post_logout_redirect_uri with state, and the bridge session is over", func(t *testing.T) {
		if !r.EndSessionURL.OK {
			t.Fatalf("buildEndSessionUrl: %s", r.EndSessionURL.failure())
		}
		u, err := url.Parse(r.EndSessionURL.Value)
		if err != nil || !strings.HasPrefix(u.String(), b.Issuer+"/") || u.Query().Get("id_token_hint") == "" {
			t.Fatalf("end_session URL %q", r.EndSessionURL.Value)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(u.String())); err != nil {
			t.Fatal(err)
		}
		if err := rpharness.WaitJS(ctx, `!!document.querySelector("#signed-out")`); err != nil {
			t.Fatalf("logout did not come back to the RP: %v (browser at %s: %.500s)", err, rpharness.Location(ctx), rpharness.BodyText(ctx))
		}
		if loc := rpharness.Location(ctx); !strings.HasPrefix(loc, origin+"/signed-out?") {
			t.Fatalf("logout came back to %s", loc)
		}
		if st := rpharness.BodyText(ctx); strings.TrimSpace(st) != "rp-logout-state" {
			t.Fatalf("state after logout %q", st)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/start")); err != nil {
			t.Fatal(err)
		}
		if err := rpharness.WaitJS(ctx, `!!document.querySelector("#login")`); err != nil {
			t.Fatalf("after logout a new sign-in did not ask for the password: %v (browser at %s)", err, rpharness.Location(ctx))
		}
	})
	t.Run("RP-initiated logout with a post_logout_redirect_uri the client did not register: the bridge does not send the browser there", func(t *testing.T) {
		if !r.EndSessionUnregistered.OK {
			t.Fatalf("buildEndSessionUrl: %s", r.EndSessionUnregistered.failure())
		}
		bad := origin + "/not-registered"
		p := bridgetest.NewBrowser(t, b.Issuer).Get(r.EndSessionUnregistered.Value)
		for what, v := range map[string]string{"Location": p.Location, "Refresh": p.Header.Get("Refresh"), "page": p.Body} {
			if strings.Contains(v, bad) || strings.Contains(v, url.QueryEscape(bad)) {
				t.Fatalf("the bridge points the browser at the unregistered %s (%s, status %d): %.300s", bad, what, p.Status, v)
			}
		}
		t.Logf("end_session with an unregistered post_logout_redirect_uri: status %d at %s, no redirect to it", p.Status, p.URL.Path)
	})
}
