package bridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// bclRecorder is an app's back-channel logout endpoint that keeps the logout tokens' claims.
type bclRecorder struct {
	srv *httptest.Server
	got chan map[string]any
}

func newBCLRecorder(t *testing.T) *bclRecorder {
	r := &bclRecorder{got: make(chan map[string]any, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		tok := req.PostForm.Get("logout_token")
		parts := strings.Split(tok, ".")
		if req.URL.Path != "/bcl" || len(parts) != 3 {
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(raw, &claims)
		r.got <- claims
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// withBCL gives "other" (grantEnv's second client) a back-channel logout URI at r.
func (r *bclRecorder) withBCL(c *bridge.Config) {
	c.Clients[1].BackchannelLogoutURI = r.srv.URL + "/bcl"
	c.Clients[1].AllowInternalTargets = true // r is on 127.0.0.1
}

// delivered delivers the due outbox events and returns the logout tokens "other" got.
func (r *bclRecorder) delivered(t *testing.T, e *env) []map[string]any {
	t.Helper()
	if _, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for {
		select {
		case c := <-r.got:
			out = append(out, c)
		default:
			return out
		}
	}
}

// sidOf exchanges code at cfg and returns the ID token's sid.
func sidOf(t *testing.T, e *env, cfg *oauth2.Config, code string) string {
	t.Helper()
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("no ID token: %q", raw)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.SID == "" {
		t.Fatalf("no sid in the ID token: %s %v", b, err)
	}
	return c.SID
}

// copyCookies gives to the bridge's cookies of from (a copy of the cookie, as a thief or a
// planted cookie would hold it).
func copyCookies(e *env, from, to *bridgetest.Browser) {
	u, _ := url.Parse(e.issuer + "/")
	to.Client.Jar.SetCookies(u, from.Client.Jar.Cookies(u))
}

// TestReauthenticationKeepsTheSession (review s10 V8; OIDC Core 3.1.2.1, Back-Channel Logout
// 1.0 2.4/2.7, OWASP ASVS 3.2.1): a member signing in again in the same browser because an app
// asked for a fresh sign-in (prompt=login, max_age=0) keeps the SSO session: the new ID token
// carries the sid the other app was given, no app is sent a logout token, the browser goes on
// to the other app without signing in, and the browser's old cookie value (a copy of it, as a
// thief or a planted cookie holds it) opens nothing any more (a new value: no session
// fixation). Signing out afterwards sends the other app its logout token with the sid it
// knows. Before, the fresh sign-in made a new session and ended the old one: the other app got
// a logout token at once, and a new sid.
func TestReauthenticationKeepsTheSession(t *testing.T) {
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		rec := newBCLRecorder(t)
		e := grantEnv(t, rec.withBCL)
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
		b := e.browser()
		sid := sidOf(t, e, other, e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password"))
		old := e.browser()
		copyCookies(e, b, old)

		p := b.Get(web.AuthCodeURL("b", opt))
		if p.Location != "" {
			t.Fatalf("a fresh sign-in was answered without the form: %q", p.Location)
		}
		p = b.Login(p, "alice", "alice-password")
		if got := sidOf(t, e, web, p.Redirected(t).Get("code")); got != sid {
			t.Errorf("sid after the fresh sign-in %q, want the session's %q", got, sid)
		}
		if l := rec.delivered(t, e); len(l) != 0 {
			t.Fatalf("the fresh sign-in sent the other app %d logout tokens: %v", len(l), l[0])
		}
		if n := sessionsOf(t, e, "alice"); n != 1 {
			t.Fatalf("alice has %d sessions, want 1", n)
		}
		// The browser goes on to the other app with its session (its new cookie value).
		if got := sidOf(t, e, other, e.signIn(b, other.AuthCodeURL("c"), "", "")); got != sid {
			t.Errorf("sid at the other app afterwards %q, want %q", got, sid)
		}
		// The old cookie value opens nothing.
		if p := old.Get(other.AuthCodeURL("d")); p.Location != "" || !strings.Contains(p.Body, `name="password"`) {
			t.Fatalf("the replaced cookie value still signs in: %d %q", p.Status, p.Location)
		}
		// Signing out reaches the other app, with the sid it knows.
		signOut(t, e, b)
		l := rec.delivered(t, e)
		if len(l) != 1 || l[0]["sid"] != sid {
			t.Fatalf("after signing out, the other app got %v, want one logout token with sid %s", l, sid)
		}
		if n := sessionsOf(t, e, "alice"); n != 0 {
			t.Fatalf("alice has %d sessions after signing out", n)
		}
	}
}

// TestFreshSignInAsAnotherMemberEndsTheSession: a sign-in in the same browser as another
// member still ends the browser's previous session, whose apps are told (the member is no
// longer the one the apps were signed in as).
func TestFreshSignInAsAnotherMemberEndsTheSession(t *testing.T) {
	rec := newBCLRecorder(t)
	e := grantEnv(t, rec.withBCL)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	sid := sidOf(t, e, other, e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password"))
	p := b.Login(b.Get(web.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "login"))), "bob", "bob-password")
	if got := sidOf(t, e, web, p.Redirected(t).Get("code")); got == sid {
		t.Error("bob was given alice's session")
	}
	l := rec.delivered(t, e)
	if len(l) != 1 || l[0]["sid"] != sid {
		t.Fatalf("the other app got %v, want one logout token for alice's session %s", l, sid)
	}
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("alice has %d sessions", n)
	}
}

// raceReauth is a store whose first CompleteSignIn, once armed, waits for a second to arrive,
// and whose second waits for the first to finish (raceSignIns): two tabs signing in again at
// once.
type raceReauth struct{ raceSignIns }

func newRaceReauth(st store.Store) *raceReauth { return &raceReauth{raceSignIns{Store: st}} }

// TestTwoTabsReauthenticatingAtOnce: two apps in two tabs of one browser ask for a fresh
// sign-in at once and the member signs in in both: each app gets its code, with the session's
// sid, the member keeps one session holding both apps, no app is sent a logout token, and the
// tab whose re-authentication lost the compare-and-set (the first one replaced the cookie value
// it presented) goes on with the session as the winner left it (op's callback, with the
// winner's cookie). On both stores.
func TestTwoTabsReauthenticatingAtOnce(t *testing.T) {
	wrappedStores(t, newRaceReauth, func(t *testing.T, deps envDeps, st func() *raceReauth) {
		rec := newBCLRecorder(t)
		e := newEnvDeps(t, false, nil, deps, withGrantClients, rec.withBCL)
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
		b := e.browser()
		rs := st()
		sid := sidOf(t, e, other, e.signIn(b, other.AuthCodeURL("a"), "alice", "alice-password"))
		rs.arm()

		forms := make([]url.Values, 2)
		for i, cfg := range []*oauth2.Config{web, other} {
			f := b.Get(cfg.AuthCodeURL("t", oauth2.SetAuthURLParam("prompt", "login"))).Hidden()
			forms[i] = url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
		}
		noFollow := &http.Client{Jar: b.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		locs := make([]string, 2)
		var wg sync.WaitGroup
		for i := range forms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := noFollow.PostForm(e.issuer+"/login", forms[i])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				locs[i] = resp.Header.Get("Location")
			}()
		}
		wg.Wait()
		for i, cfg := range []*oauth2.Config{web, other} {
			loc := locs[i]
			if strings.HasPrefix(loc, "/") {
				// The loser: op's callback, collected with the cookie the winner set.
				loc = b.Get(e.issuer + loc).Location
			}
			u, err := url.Parse(loc)
			if err != nil || u.Query().Get("code") == "" {
				t.Fatalf("tab %d ended at %q, want its app's code", i, locs[i])
			}
			if got := sidOf(t, e, cfg, u.Query().Get("code")); got != sid {
				t.Errorf("tab %d: sid %q, want the session's %q", i, got, sid)
			}
		}
		if l := rec.delivered(t, e); len(l) != 0 {
			t.Fatalf("signing in again in two tabs sent %d logout tokens", len(l))
		}
		live, err := rs.Sessions(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(live) != 1 || len(live[0].Clients) != 2 {
			t.Fatalf("live sessions %+v, want one with both apps", live)
		}
		signOut(t, e, b)
		if l := rec.delivered(t, e); len(l) != 1 || l[0]["sid"] != sid {
			t.Fatalf("after signing out, the other app got %v, want its logout token with sid %s", l, sid)
		}
	})
}
