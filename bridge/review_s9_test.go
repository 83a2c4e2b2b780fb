package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	imissim "github.com/ssobridge/ssobridge/legacy/imis/sim"
)

// TestHandoffRetryAfterAMSOutage (review s9 Z1): an AMS token whose exchange failed because
// the AMS could not be reached signed nobody in, so the same token works when the AMS is
// back. Before, its hash stayed in the replay guard for five minutes: the hand-off page said
// "try again in a few minutes" and the retry (the browser re-posting the form) was refused as
// "already used"; token exchange answered 503 temporarily_unavailable and then, on the retry
// RFC 6749 invites, invalid_grant, which tells the client to throw its AMS token away.
func TestHandoffRetryAfterAMSOutage(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) {
		c.AMS.Timeout = time.Second
		c.AMS.ExchangeClients = []string{"exchanger"}
	})
	sim := e.amsSim
	t.Run("hand-off", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		sim.SetFaults(imissim.Faults{Status: http.StatusInternalServerError})
		b := e.browser()
		if p := amsPost(t, e, b, url.Values{"refresh_token": {tok}}); p.Status != http.StatusServiceUnavailable {
			sim.SetFaults(imissim.Faults{})
			t.Fatalf("AMS down: want 503, got %d %.200s", p.Status, p.Body)
		}
		sim.SetFaults(imissim.Faults{})
		p := amsPost(t, e, b, url.Values{"refresh_token": {tok}})
		if acc := b.Get(e.issuer + "/account"); acc.Status != http.StatusOK {
			t.Fatalf("retry after the AMS came back: %d %.300s", p.Status, p.Body)
		}
	})
	t.Run("token exchange", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		form := map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": tok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}
		sim.SetFaults(imissim.Faults{Status: http.StatusInternalServerError})
		resp, body := postForm(t, tokenURL(e), form, "exchanger", webSecret)
		sim.SetFaults(imissim.Faults{})
		wantOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
		resp, body = postForm(t, tokenURL(e), form, "exchanger", webSecret)
		if resp.StatusCode != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("retry after the AMS came back: %d %v", resp.StatusCode, body)
		}
	})
}

// TestLogoutHintOfAnotherSession (review s9 Z2): end_session signs out without asking only
// when the id_token_hint belongs to this browser's session. OpenID Connect RP-Initiated Logout
// 1.0 section 2: the OP MUST ask the End-User "if the supplied ID Token does not belong to the
// current OP session with the RP". Before, a hint naming the same member was enough, so an ID
// token of an earlier (or another browser's) session of the member, which an app or anyone it
// leaked to may keep for long after, signed the member's current session out at once.
func TestLogoutHintOfAnotherSession(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other := e.browser()
	old, err := web.Exchange(e.ctx(), e.signIn(other, web.AuthCodeURL("s0"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	cur, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s1"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	p := b.Get(e.issuer + "/end_session?id_token_hint=" + url.QueryEscape(old.Extra("id_token").(string)))
	if !strings.Contains(p.Body, "Sign out?") {
		t.Fatalf("another session's ID token signed out without asking: %d %q", p.Status, p.Location)
	}
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("session ended without confirmation")
	}
	// This session's own ID token still signs out at once, and only this browser.
	b.Get(e.issuer + "/end_session?id_token_hint=" + url.QueryEscape(cur.Extra("id_token").(string)))
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("the session's own ID token as hint did not sign out")
	}
	if other.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("signing out one browser ended the other browser's session")
	}
}

// TestHandoffIsNoReauthentication (review s9 Z3): a request that asks for a fresh sign-in
// (prompt=login, or max_age: OIDC Core 3.1.2.1, "the OP MUST attempt to actively
// re-authenticate the End-User") is not answered by a hand-off from the AMS website: the
// hand-off proves a session there of unknown age (iMIS's remembered sign-ins last for days)
// and the member types nothing. Before, the login page's "Continue with your member account"
// went to the AMS, came straight back and completed the request with auth_time = now.
func TestHandoffIsNoReauthentication(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	for _, opt := range []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("prompt", "login"),
		oauth2.SetAuthURLParam("max_age", "0"),
		oauth2.SetAuthURLParam("max_age", "86400"),
	} {
		b := e.browser()
		amsLogin(t, e, b, "alice", "alice-password")
		login := b.Get(web.AuthCodeURL("st", opt))
		f := login.Hidden()
		p := b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}})
		if p.Status == http.StatusOK && amsToken.MatchString(p.Body) {
			p = iPart(t, e, b, p)
		}
		if p.Location != "" {
			t.Fatalf("%s: the hand-off answered a request for a fresh sign-in: %s", login.URL.RawQuery, p.Location)
		}
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "username and password") {
			t.Fatalf("%s: want a page asking for the password, got %d %.300s", login.URL.RawQuery, p.Status, p.Body)
		}
		if b.Get(e.issuer+"/account").Status == http.StatusOK {
			t.Fatal("a session was opened")
		}
		// The login form of the same request still works.
		if q := b.Login(b.Get(e.issuer+"/login?id="+url.QueryEscape(f.Get("id"))), "alice", "alice-password").Redirected(t); q.Get("code") == "" {
			t.Fatalf("the password afterwards: %v", q)
		}
	}
}

// TestSingleSignOffWithoutBridgeSession (review s9 Z5): an app's sign-out reaches the AMS
// website also when the bridge session has already ended (expired after session.lifetime,
// ended by an administrator or by another provider's logout): the member who signs out of the
// app on a shared computer is otherwise still signed in on the AMS website, and through the
// hand-off, back into every app without a password. Before, end_session with no bridge session
// went straight to the app's post_logout_redirect_uri.
func TestSingleSignOffWithoutBridgeSession(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")
	tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	// The bridge session ends without this browser (as when it expires).
	u, _ := url.Parse(e.issuer + "/")
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "ssobridge", Value: "", Path: "/", MaxAge: -1}})
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("the bridge session is still there")
	}
	if home := b.Get(e.issuer + "/demo-ams/"); !strings.Contains(home.Body, "alice") {
		t.Fatal("not signed in at the AMS website")
	}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {e.rp + "/signed-out"}, "state": {"bye"}}
	out := b.Get(e.issuer + "/end_session?" + q.Encode())
	if !strings.HasPrefix(out.Location, e.rp+"/signed-out") || !strings.Contains(out.Location, "state=bye") {
		t.Fatalf("end_session did not come back to the app: %q (at %s)", out.Location, out.URL)
	}
	if home := b.Get(e.issuer + "/demo-ams/"); strings.Contains(home.Body, "alice") {
		t.Fatal("still signed in at the AMS website after signing out of the app")
	}
}

// TestIssInFragmentErrorResponse (review s9 Z6): RFC 9207 section 2: an authorization server
// that advertises authorization_response_iss_parameter_supported includes iss in every
// authorization response, error responses too, whatever the response mode. A request with
// response_mode=fragment is refused (only query is supported) with the error in the fragment,
// which had state but no iss: an app that checks iss (as RFC 9207 tells it to) cannot tell the
// error came from this issuer.
func TestIssInFragmentErrorResponse(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	p := e.browser().Get(web.AuthCodeURL("st", oauth2.SetAuthURLParam("response_mode", "fragment")))
	if !strings.HasPrefix(p.Location, e.rp+"/callback#") {
		t.Fatalf("no error redirect to the app in the fragment: %d %q", p.Status, p.Location)
	}
	// The fragment as the app's script reads it: location.hash, decoded once.
	_, frag, _ := strings.Cut(p.Location, "#")
	q, err := url.ParseQuery(frag)
	if err != nil || q.Get("error") == "" || q.Get("state") != "st" || q.Get("iss") != e.issuer {
		t.Fatalf("error response %q: want error, state and iss %q", p.Location, e.issuer)
	}
}

// TestHandoffSessionIsNoReauthentication (review s9 Z3, second path; for K: sessionAnswers in
// bridge/web/authflow/login.go): a session opened by a hand-off from the AMS website after an
// app asked for a fresh sign-in (prompt=login, max_age) must not answer that request: the
// member typed nothing, and the AMS session may be days old. Here the member leaves the login
// page, signs in through the AMS website's SSO page in another tab (no pending request, so
// /handoff/start's refusal does not apply), and reloads the login page: it completed the
// request without a password, because a session signed in after the request was made counts
// as the new sign-in.
func TestHandoffSessionIsNoReauthentication(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")
	login := b.Get(web.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "login")))
	id := login.Hidden().Get("id")
	if id == "" {
		t.Fatalf("no login form: %d %.200s", login.Status, login.Body)
	}
	iPart(t, e, b, b.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("the hand-off opened no session")
	}
	if p := b.Get(e.issuer + "/login?id=" + url.QueryEscape(id)); p.Location != "" {
		t.Fatalf("the hand-off's session answered prompt=login: %s", p.Location)
	}
}

// TestHandoffWithoutOriginIsConfirmed (review s9 Z7): a hand-off POST without an Origin header
// is confirmed on a page naming the account, as one with Origin: null is. Browsers send Origin
// with every cross-site form POST; one that does not (an old browser) could be made to post an
// attacker's own AMS token from the attacker's page (login CSRF), which went straight through.
func TestHandoffWithoutOriginIsConfirmed(t *testing.T) {
	e := newEnvWith(t, true)
	tok, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	b := e.browser()
	page := b.Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {tok}}) // no Origin
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Continue as Alice Archer (alice)?") {
		t.Fatalf("no confirmation naming the account: %d %q %.300s", page.Status, page.Location, page.Body)
	}
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("a session was created before the member confirmed")
	}
	f := page.Hidden()
	b.Post(e.issuer+"/handoff/confirm", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"switch"}})
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("confirming did not sign in")
	}
}
