package rp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const (
	spaClientID = "member-spa_v2.app~public"
	spaScope    = "openid profile email roles offline_access"
)

// spaServer serves the SPA (node/spa with the oidc-client-ts browser bundle) on its own
// 127.0.0.1 origin; config.js tells it the bridge's issuer once the bridge runs.
func spaServer(t *testing.T, dir string, issuer *atomic.Pointer[string]) *httptest.Server {
	t.Helper()
	files := map[string]string{
		"/common.js":             filepath.Join(dir, "spa", "common.js"),
		"/app.js":                filepath.Join(dir, "spa", "app.js"),
		"/oidc-client-ts.min.js": filepath.Join(dir, "node_modules", "oidc-client-ts", "dist", "browser", "oidc-client-ts.min.js"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch p := r.URL.Path; {
		case p == "/config.js":
			cfg, _ := json.Marshal(map[string]string{"authority": *issuer.Load(), "client_id": spaClientID, "scope": spaScope})
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			fmt.Fprintf(w, "window.SPA_CONFIG = %s;\n", cfg)
		case files[p] != "":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, files[p])
		case p == "/" || p == "/callback" || p == "/signed-out":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			http.ServeFile(w, r, filepath.Join(dir, "spa", "index.html"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// spaUser is what oidc-client-ts holds for the signed-in member.
type spaUser struct {
	Profile      map[string]any `json:"profile"`
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	IDToken      string         `json:"id_token"`
	TokenType    string         `json:"token_type"`
	Scope        string         `json:"scope"`
	ExpiresIn    *float64       `json:"expires_in"`
	URLState     string         `json:"url_state"`
}

// spaReport is window.spa (node/spa/app.js).
type spaReport struct {
	Stage       string   `json:"stage"`
	Origin      string   `json:"origin"`
	User        *spaUser `json:"user"`
	Renewed     *spaUser `json:"renewed"`
	LogoutState *string  `json:"logout_state"`
	UserLeft    bool     `json:"user_left"`
	Error       *struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Error   string `json:"error"`
	} `json:"error"`
}

// spaWait waits until the SPA reaches one of the stages (or one of theirs "-failed") and
// returns its report.
func spaWait(t *testing.T, ctx context.Context, stages ...string) *spaReport {
	t.Helper()
	var conds []string
	for _, s := range stages {
		conds = append(conds, fmt.Sprintf(`window.spa.stage === %q || window.spa.stage.endsWith("-failed")`, s))
	}
	expr := `!!window.spa && (` + strings.Join(conds, " || ") + `)`
	if err := rpharness.WaitJS(ctx, expr); err != nil {
		t.Fatalf("the SPA did not reach %v: %v (browser at %s: %.500s)", stages, err, rpharness.Location(ctx), rpharness.BodyText(ctx))
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.spa)`))
	if err != nil {
		t.Fatalf("read the SPA's report: %v", err)
	}
	r := &spaReport{}
	if err := json.Unmarshal([]byte(raw), r); err != nil {
		t.Fatalf("the SPA's report: %v: %.500s", err, raw)
	}
	return r
}

// spaCall starts one of the SPA's actions (it runs asynchronously; spaWait follows it).
func spaCall(t *testing.T, ctx context.Context, fn string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(`+fn+`(), true)`)); err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
}

// TestSPA: a single-page app built on oidc-client-ts, served from another origin than the bridge,
// signs the demo staff member in through the real login page, renews silently with its refresh
// token and signs out. Every call it makes to the bridge after the redirects is a cross-origin
// fetch, so this is what proves CORS; the same app on an origin the client did not register
// cannot read the token response.
func TestSPA(t *testing.T) {
	_, dir := nodePackages(t)
	var issuer atomic.Pointer[string]
	spa := spaServer(t, dir, &issuer)      // the registered web origin
	stranger := spaServer(t, dir, &issuer) // same app, an origin not in web_origins
	b := rpharness.StartBridge(t, []config.Client{{
		ID: spaClientID, Name: "Member SPA (oidc-client-ts)", Public: true, Trusted: true,
		RedirectURIs:           []string{spa.URL + "/callback", stranger.URL + "/callback"},
		PostLogoutRedirectURIs: []string{spa.URL + "/signed-out"},
		WebOrigins:             []string{spa.URL},
	}})
	issuer.Store(&b.Issuer)
	if spa.URL == b.Issuer || stranger.URL == b.Issuer {
		t.Fatal("the SPA must be on another origin than the bridge")
	}
	ctx := rpharness.NewChrome(t)

	authz := recordAuthorize(t, ctx, b.Issuer)
	rpharness.SignIn(t, ctx, b, spa.URL+"/?login=1", rpharness.StaffLogin, rpharness.StaffPassword)
	r := spaWait(t, ctx, "signed-in")
	if r.Stage != "signed-in" || r.User == nil {
		t.Fatalf("sign-in in the SPA failed at stage %s: %+v", r.Stage, r.Error)
	}
	t.Run("authorization request: response_type code with an S256 PKCE challenge, as oidc-client-ts built it", func(t *testing.T) {
		if q := authz.checkPKCE(t, spaClientID); q.Get("redirect_uri") != spa.URL+"/callback" {
			t.Fatalf("redirect_uri %q", q.Get("redirect_uri"))
		}
	})
	u := r.User
	t.Run("code flow with PKCE from another origin: oidc-client-ts exchanged the code by a cross-origin fetch and validated the ID token", func(t *testing.T) {
		if r.Origin != spa.URL {
			t.Fatalf("the SPA ran at %s, want %s (not the bridge's origin %s)", r.Origin, spa.URL, b.Issuer)
		}
		if u.AccessToken == "" || u.RefreshToken == "" || u.IDToken == "" || !strings.EqualFold(u.TokenType, "bearer") {
			t.Fatalf("tokens: access %t, refresh %t, id %t, type %q", u.AccessToken != "", u.RefreshToken != "", u.IDToken != "", u.TokenType)
		}
		if u.Profile["iss"] != b.Issuer || !audHas(u.Profile["aud"], spaClientID) || str(u.Profile["sub"]) == "" {
			t.Fatalf("ID token iss %v, aud %v, sub %v", u.Profile["iss"], u.Profile["aud"], u.Profile["sub"])
		}
		if u.URLState != "spa-login-state" {
			t.Fatalf("url_state %q: the SPA's state did not survive the round trip", u.URLState)
		}
		t.Logf("SPA at %s, bridge at %s: token exchange by CORS worked", spa.URL, b.Issuer)
	})
	t.Run("userinfo by a cross-origin fetch: the profile holds name, email, email_verified=false and the member's live roles", func(t *testing.T) {
		p := u.Profile
		want := b.LiveRoles(t, rpharness.StaffLogin)
		if p["name"] != "Stacy Staff" || p["email"] != rpharness.StaffEmail {
			t.Fatalf("profile name %v, email %v", p["name"], p["email"])
		}
		if v, ok := p["email_verified"]; !ok || v != false {
			t.Fatalf("email_verified %v (present %t), want false", v, ok)
		}
		if got := strList(p["roles"]); !slices.Equal(got, want) {
			t.Fatalf("roles %v, want %v", p["roles"], want)
		}
		for _, s := range strings.Fields(spaScope) {
			if !slices.Contains(strings.Fields(u.Scope), s) {
				t.Fatalf("granted scope %q lacks %s", u.Scope, s)
			}
		}
	})

	renewed := u
	t.Run("silent renew with the refresh token (no iframe is configured): a new access token, a rotated refresh token, the same member", func(t *testing.T) {
		spaCall(t, ctx, "spaRenew")
		r := spaWait(t, ctx, "renewed")
		if r.Stage != "renewed" || r.Renewed == nil {
			t.Fatalf("silent renew failed at stage %s: %+v", r.Stage, r.Error)
		}
		n := r.Renewed
		if n.AccessToken == "" || n.AccessToken == u.AccessToken || n.RefreshToken == "" || n.RefreshToken == u.RefreshToken {
			t.Fatalf("renew did not issue new tokens (access new %t, refresh rotated %t)",
				n.AccessToken != u.AccessToken, n.RefreshToken != "" && n.RefreshToken != u.RefreshToken)
		}
		if n.Profile["sub"] != u.Profile["sub"] || !slices.Equal(strList(n.Profile["roles"]), strList(u.Profile["roles"])) {
			t.Fatalf("renewed profile sub %v roles %v, was %v %v", n.Profile["sub"], n.Profile["roles"], u.Profile["sub"], u.Profile["roles"])
		}
		if code, _ := b.Userinfo(t, n.AccessToken); code != http.StatusOK {
			t.Fatalf("the renewed access token: userinfo %d", code)
		}
		renewed = n
	})

	t.Run("CORS is per registered origin: the same SPA on an unregistered origin cannot read the token response", func(t *testing.T) {
		// The bridge session exists: the authorize request returns a code at once.
		if err := chromedp.Do(ctx, chromedp.Navigate(stranger.URL+"/?login=1")); err != nil {
			t.Fatal(err)
		}
		r := spaWait(t, ctx, "signed-in")
		if r.Stage != "callback-failed" || r.Origin != stranger.URL {
			t.Fatalf("at %s the SPA reached %s, want callback-failed (the token response must be unreadable there)", r.Origin, r.Stage)
		}
		// A fetch the browser blocks is a TypeError; a protocol error would be oidc-client-ts's
		// ErrorResponse and prove nothing about CORS.
		if r.Error == nil || r.Error.Name != "TypeError" {
			t.Fatalf("at %s the callback failed with %+v, want the browser's fetch TypeError (CORS)", r.Origin, r.Error)
		}
		t.Logf("oidc-client-ts at the unregistered origin %s: %s", stranger.URL, r.Error.Message)
	})

	t.Run("logout: oidc-client-ts revoked both tokens by CORS, came back to post_logout_redirect_uri with its state, and the bridge session is over", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(spa.URL+"/")); err != nil {
			t.Fatal(err)
		}
		if r := spaWait(t, ctx, "signed-in"); r.Stage != "signed-in" {
			t.Fatalf("back at the SPA: stage %s, want signed-in (the user kept in sessionStorage)", r.Stage)
		}
		spaCall(t, ctx, "spaLogout")
		r := spaWait(t, ctx, "signed-out")
		if r.Stage != "signed-out" {
			t.Fatalf("logout failed at stage %s: %+v (browser at %s)", r.Stage, r.Error, rpharness.Location(ctx))
		}
		if r.Origin != spa.URL || r.LogoutState == nil || *r.LogoutState != "spa-logout-state" || r.UserLeft {
			t.Fatalf("after logout: origin %s, state %v, user left %t", r.Origin, r.LogoutState, r.UserLeft)
		}
		ev, err := b.App.Store.AuditEvents(context.Background(), store.AuditFilter{Event: "token.revoke", ClientID: spaClientID})
		if err != nil {
			t.Fatal(err)
		}
		var revoked []string
		for _, e := range ev {
			revoked = append(revoked, e.Detail)
		}
		slices.Sort(revoked)
		if !slices.Equal(revoked, []string{"access token", "refresh token family"}) {
			t.Fatalf("revocations audited for the SPA: %q, want its access token and refresh token family", revoked)
		}
		if code, _ := b.Userinfo(t, renewed.AccessToken); code != http.StatusUnauthorized {
			t.Fatalf("the revoked access token: userinfo %d, want 401", code)
		}
		if code, body := refreshPublic(t, b.Issuer, renewed.RefreshToken); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("the revoked refresh token: %d %v, want 400 invalid_grant", code, body)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(spa.URL+"/?login=1")); err != nil {
			t.Fatal(err)
		}
		if err := rpharness.WaitJS(ctx, `!!document.querySelector("#login")`); err != nil {
			t.Fatalf("after logout a new sign-in did not ask for the password: %v (browser at %s)", err, rpharness.Location(ctx))
		}
	})
}

// refreshPublic tries a refresh grant as the public SPA client.
func refreshPublic(t *testing.T, issuer, refreshToken string) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refreshToken}, "client_id": {spaClientID}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}
