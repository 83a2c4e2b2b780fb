package rp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const (
	silentClientID = "member-spa-silent"
	silentScope    = "openid profile email"
)

// silentServer serves the silent sign-in SPA (node/spa/silent.html, common.js and silent.js
// with the oidc-client-ts browser bundle) on its own 127.0.0.1 origin.
func silentServer(t *testing.T, dir string, issuer *atomic.Pointer[string]) *httptest.Server {
	t.Helper()
	files := map[string]string{
		"/common.js":             filepath.Join(dir, "spa", "common.js"),
		"/silent.js":             filepath.Join(dir, "spa", "silent.js"),
		"/oidc-client-ts.min.js": filepath.Join(dir, "node_modules", "oidc-client-ts", "dist", "browser", "oidc-client-ts.min.js"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch p := r.URL.Path; {
		case p == "/config.js":
			cfg, _ := json.Marshal(map[string]string{"authority": *issuer.Load(), "client_id": silentClientID, "scope": silentScope})
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			fmt.Fprintf(w, "window.SPA_CONFIG = %s;\n", cfg)
		case files[p] != "":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, files[p])
		case p == "/" || p == "/callback" || p == "/silent-callback":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			http.ServeFile(w, r, filepath.Join(dir, "spa", "silent.html"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// silentReport is window.spa of node/spa/silent.js.
type silentReport struct {
	Stage string   `json:"stage"`
	User  *spaUser `json:"user"`
	Error *struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Error   string `json:"error"`
	} `json:"error"`
	// Response is the authorization response the hidden iframe's page got, and the app's RFC
	// 9207 check of its iss.
	Response *struct {
		Iss   *string `json:"iss"`
		Error *string `json:"error"`
		State bool    `json:"state"`
		Code  bool    `json:"code"`
		IssOK bool    `json:"iss_ok"`
	} `json:"response"`
}

// silentWait waits until the silent SPA reaches one of stages and returns its report.
func silentWait(t *testing.T, ctx context.Context, stages ...string) *silentReport {
	t.Helper()
	var conds []string
	for _, s := range stages {
		conds = append(conds, fmt.Sprintf(`window.spa.stage === %q`, s))
	}
	if err := rpharness.WaitJS(ctx, `!!window.spa && (`+strings.Join(conds, " || ")+`)`); err != nil {
		t.Fatalf("the SPA did not reach %v: %v (browser at %s: %.500s)", stages, err, rpharness.Location(ctx), rpharness.BodyText(ctx))
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.spa)`))
	if err != nil {
		t.Fatalf("read the SPA's report: %v", err)
	}
	r := &silentReport{}
	if err := json.Unmarshal([]byte(raw), r); err != nil {
		t.Fatalf("the SPA's report: %v: %.500s", err, raw)
	}
	return r
}

// TestSPASilentSignIn (session 27 Q; session 26 O's prompt=none answers, until then tested only
// by the project's own HTTP client): oidc-client-ts's signinSilent, the way SPAs check a
// member's sign-in without a refresh token, loads the authorization request with prompt=none
// in a hidden iframe on another origin than the bridge, and takes what comes back at its
// silent_redirect_uri. A signed-out browser gets login_required there (OIDC Core 3.1.2.6), with
// the request's state (the library matches it) and the iss RFC 9207 has the app check (the
// SPA checks it against discovery's issuer: oidc-client-ts 3.5 does not); no page is shown
// and nothing waits for a timeout. Signed in, the same call gets a code in the iframe and the
// library's tokens: an ID token for the same member and an access token userinfo takes.
func TestSPASilentSignIn(t *testing.T) {
	_, dir := nodePackages(t)
	var issuer atomic.Pointer[string]
	spa := silentServer(t, dir, &issuer)
	b := rpharness.StartBridge(t, []config.Client{{
		ID: silentClientID, Name: "Member SPA, silent sign-in (oidc-client-ts)", Public: true, Trusted: true,
		RedirectURIs: []string{spa.URL + "/callback", spa.URL + "/silent-callback"},
		WebOrigins:   []string{spa.URL},
	}})
	issuer.Store(&b.Issuer)
	ctx := rpharness.NewChrome(t)
	authz := recordAuthorize(t, ctx, b.Issuer)

	silent := func(t *testing.T) *silentReport {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(spa.URL+"/")); err != nil {
			t.Fatal(err)
		}
		silentWait(t, ctx, "ready")
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(spaSilent(), true)`)); err != nil {
			t.Fatalf("spaSilent: %v", err)
		}
		r := silentWait(t, ctx, "silent-signed-in", "silent-failed")
		authz.mu.Lock()
		defer authz.mu.Unlock()
		if len(authz.urls) == 0 || authz.urls[len(authz.urls)-1].Query().Get("prompt") != "none" {
			t.Fatalf("the library's last authorization request was not prompt=none: %v", authz.urls)
		}
		if loc := rpharness.Location(ctx); !strings.HasPrefix(loc, spa.URL+"/") {
			t.Fatalf("the silent sign-in moved the page to %s", loc)
		}
		return r
	}

	t.Run("signed out: login_required at the silent_redirect_uri, with state and an iss that passes the app's RFC 9207 check", func(t *testing.T) {
		r := silent(t)
		if r.Stage != "silent-failed" || r.Error == nil || r.Error.Error != "login_required" {
			t.Fatalf("signinSilent signed out: stage %s, error %+v; want the library's ErrorResponse login_required", r.Stage, r.Error)
		}
		p := r.Response
		if p == nil || p.Code || !p.State || p.Error == nil || *p.Error != "login_required" {
			t.Fatalf("the iframe's authorization response: %+v; want error login_required with state, no code", p)
		}
		if p.Iss == nil || *p.Iss != b.Issuer || !p.IssOK {
			t.Fatalf("the response's iss %v (the app's check %t); want %s", deref(p.Iss), p.IssOK, b.Issuer)
		}
		t.Logf("signinSilent signed out: %s (%s)", r.Error.Error, r.Error.Message)
	})

	// Session 28 Q: the same silent request fetched by a script on the bridge's own origin (no
	// navigation: Chromium sends Sec-Fetch-Mode cors or same-origin) gets the error in JSON,
	// never the redirect meant for the app's page; with Accept: application/json and without.
	// The hidden iframe's navigation still gets login_required at the silent_redirect_uri.
	t.Run("signed out: a script's fetch of the silent request gets JSON, not the app's redirect", func(t *testing.T) {
		authz.mu.Lock()
		u := authz.urls[len(authz.urls)-1].String()
		authz.mu.Unlock()
		if err := chromedp.Do(ctx, chromedp.Navigate(b.Issuer+"/.well-known/openid-configuration")); err != nil {
			t.Fatal(err)
		}
		js := fmt.Sprintf(`(async () => {
			const out = [];
			for (const h of [{"Accept": "application/json"}, {}]) {
				const r = await fetch(%q, {credentials: "include", redirect: "manual", headers: h});
				out.push({status: r.status, type: r.type, body: r.type === "basic" ? await r.text() : ""});
			}
			return JSON.stringify(out);
		})()`, u)
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		var got []struct {
			Status     int
			Type, Body string
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil || len(got) != 2 {
			t.Fatalf("fetch results %v: %s", err, raw)
		}
		for i, g := range got {
			var body map[string]string
			_ = json.Unmarshal([]byte(g.Body), &body)
			if g.Type != "basic" || g.Status != http.StatusBadRequest || body["error"] != "login_required" {
				t.Errorf("fetch %d (Accept JSON %t): %s %d %.200s; want 400 JSON login_required, not a redirect", i, i == 0, g.Type, g.Status, g.Body)
			}
		}
		if r := silent(t); r.Stage != "silent-failed" || r.Error == nil || r.Error.Error != "login_required" {
			t.Fatalf("signinSilent after the fetches: stage %s, error %+v; want login_required", r.Stage, r.Error)
		}
	})

	var sub string
	t.Run("interactive sign-in first", func(t *testing.T) {
		rpharness.SignIn(t, ctx, b, spa.URL+"/?login=1", rpharness.StaffLogin, rpharness.StaffPassword)
		r := silentWait(t, ctx, "signed-in", "callback-failed")
		if r.Stage != "signed-in" || r.User == nil {
			t.Fatalf("sign-in: stage %s, error %+v", r.Stage, r.Error)
		}
		sub = str(r.User.Profile["sub"])
		if sub == "" {
			t.Fatalf("no sub in %v", r.User.Profile)
		}
	})

	t.Run("signed in: signinSilent gets a code in the iframe and the library's tokens for the same member", func(t *testing.T) {
		r := silent(t)
		if r.Stage != "silent-signed-in" || r.User == nil {
			t.Fatalf("signinSilent signed in: stage %s, error %+v, response %+v", r.Stage, r.Error, r.Response)
		}
		u, p := r.User, r.Response
		if p == nil || !p.Code || !p.State || p.Error != nil || p.Iss == nil || *p.Iss != b.Issuer || !p.IssOK {
			t.Fatalf("the iframe's authorization response: %+v; want a code with state and iss %s", p, b.Issuer)
		}
		if u.AccessToken == "" || u.IDToken == "" || u.RefreshToken != "" {
			t.Fatalf("tokens: access %t, id %t, refresh %t (none asked for)", u.AccessToken != "", u.IDToken != "", u.RefreshToken != "")
		}
		if u.Profile["iss"] != b.Issuer || !audHas(u.Profile["aud"], silentClientID) || str(u.Profile["sub"]) != sub {
			t.Fatalf("ID token iss %v, aud %v, sub %v; want %s, %s, %s", u.Profile["iss"], u.Profile["aud"], u.Profile["sub"], b.Issuer, silentClientID, sub)
		}
		if code, _ := b.Userinfo(t, u.AccessToken); code != http.StatusOK {
			t.Fatalf("the silent sign-in's access token: userinfo %d", code)
		}
	})
}
