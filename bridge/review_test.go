package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestAuthorizeParameterPollution: the provider's own checks before op (the RFC 8252 loopback
// rule) read the first value of a parameter, op's decoder the last one. An authorization request
// that repeats a parameter anywhere (twice in a POST body, or once in the query and once in
// the body) is refused on a page, never sent to the login page or redirected to.
func TestAuthorizeParameterPollution(t *testing.T) {
	e := grantEnv(t)
	v := oauth2.GenerateVerifier()
	base := url.Values{
		"client_id": {"mobile"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"st"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
	}
	const registered, other = "http://127.0.0.1:5/mobile/cb", "http://localhost:5/mobile/cb"
	cases := []struct {
		name        string
		query, body url.Values
	}{
		{"body twice", nil, with(base, "redirect_uri", registered, other)},
		{"query and body", url.Values{"redirect_uri": {other}}, with(base, "redirect_uri", registered)},
		{"client_id twice", nil, with(with(base, "redirect_uri", other), "client_id", "nosuchclient", "mobile")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := e.issuer + "/authorize"
			if tc.query != nil {
				u += "?" + tc.query.Encode()
			}
			b := e.browser()
			p := b.Post(u, tc.body)
			if p.Status != http.StatusBadRequest || p.Location != "" || p.URL.Path != "/authorize" {
				t.Fatalf("repeated parameter accepted: status %d at %s, location %q", p.Status, p.URL, p.Location)
			}
			if strings.Contains(p.Body, `name="password"`) {
				t.Fatal("login form shown for a polluted request")
			}
		})
	}
}

// with returns a copy of v with k set to vals.
func with(v url.Values, k string, vals ...string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = append([]string(nil), vv...)
	}
	out[k] = vals
	return out
}

// TestConsentDoesNotSkipFreshLogin: prompt=login, max_age and an id_token_hint naming another
// member make the login page ask for the password although the browser has a session. The
// consent page is another entry point that completes the request: going there directly (GET
// or POST, with the page's own CSRF token) must not complete it with the old session.
func TestConsentDoesNotSkipFreshLogin(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	// bob signs in; his ID token is the hint of the third case (naming him while alice is in).
	code := e.signIn(b, web.AuthCodeURL("s0"), "bob", "bob-password")
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	bobHint := tok.Extra("id_token").(string)
	cases := []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}},
		{"max_age=0", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}},
		{"id_token_hint of another member", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("id_token_hint", bobHint)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			e.signIn(b, web.AuthCodeURL("s1"), "alice", "alice-password")
			time.Sleep(time.Millisecond) // max_age=0: the session is older than "now"
			p := b.Get(web.AuthCodeURL("s2", tc.opts...))
			f := p.Hidden()
			if p.Location != "" || f.Get("id") == "" || !strings.Contains(p.Body, `name="password"`) {
				t.Fatalf("expected the login form: status %d location %q", p.Status, p.Location)
			}
			id, csrf := f.Get("id"), f.Get("csrf")
			if g := b.Get(e.issuer + "/consent?id=" + url.QueryEscape(id)); g.Location != "" || strings.Contains(g.Body, `value="allow"`) {
				t.Errorf("GET /consent offered to complete with the old session: status %d location %q", g.Status, g.Location)
			}
			p = b.Post(e.issuer+"/consent", url.Values{"csrf": {csrf}, "id": {id}, "decision": {"allow"}})
			if p.Location != "" {
				t.Fatalf("POST /consent completed the request with the old session: %s", p.Location)
			}
			// The password still finishes it.
			if !strings.Contains(p.Body, `name="password"`) {
				t.Fatalf("expected to be sent to the login form, got %d at %s", p.Status, p.URL)
			}
			who := "alice"
			if strings.Contains(tc.name, "hint") {
				who = "bob"
			}
			p = b.Login(p, who, who+"-password")
			if q := p.Redirected(t); q.Get("code") == "" {
				t.Fatalf("no code after signing in again: %v", q)
			}
		})
	}
}

// TestErrorResponseEndsRequest: a sign-in request gets one authorization response. Once the
// client was sent an error for it (the member denied consent; prompt=none without a session),
// the same request cannot go on to a code.
func TestErrorResponseEndsRequest(t *testing.T) {
	e := newEnv(t)
	t.Run("consent denied, then allowed", func(t *testing.T) {
		third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
		b := e.browser()
		p := b.Login(b.Get(third.AuthCodeURL("st")), "alice", "alice-password")
		f := p.Hidden()
		if f.Get("id") == "" || !strings.Contains(p.Body, `value="allow"`) {
			t.Fatalf("expected the consent page: %d at %s", p.Status, p.URL)
		}
		d := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"deny"}})
		if q := d.Redirected(t); q.Get("error") != "access_denied" {
			t.Fatalf("deny: %v", q)
		}
		a := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
		if a.Location != "" {
			t.Fatalf("a denied request went on to %s", a.Location)
		}
	})
	t.Run("prompt=none answered, then signed in", func(t *testing.T) {
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		pending := "SELECT COUNT(*) FROM auth_requests WHERE done = 0"
		before := countRows(t, e, pending)
		p := b.Get(web.AuthCodeURL("none", oauth2.SetAuthURLParam("prompt", "none")))
		q := p.Redirected(t)
		if q.Get("error") != "login_required" {
			t.Fatalf("prompt=none: %v", q)
		}
		// Answered by /authorize itself (its id never reached the browser), and the request
		// ended with its answer: nothing is left pending that a sign-in could complete.
		if p.URL.Path != "/authorize" {
			t.Fatalf("answered from %s", p.URL)
		}
		if n := countRows(t, e, pending); n != before {
			t.Fatalf("%d pending requests after the prompt=none answer, %d before", n, before)
		}
		e.signIn(b, web.AuthCodeURL("other"), "alice", "alice-password")
	})
}

// TestCallbackNeedsLiveSession: the code is issued only to the browser whose session completed
// the request while that session is still live; a session ended in between (signed out
// elsewhere, ended by an administrator, member disabled) gets no code.
func TestCallbackNeedsLiveSession(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s1"), "alice", "alice-password")
	follow := b.Client.CheckRedirect
	b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/authorize/callback" {
			return http.ErrUseLastResponse
		}
		return follow(req, via)
	}
	p := b.Get(web.AuthCodeURL("s2"))
	if !strings.HasPrefix(p.Location, "/authorize/callback?") {
		t.Fatalf("expected the callback, got %d %q", p.Status, p.Location)
	}
	sessions, err := e.store.Sessions(e.ctx(), "")
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions: %v %d", err, len(sessions))
	}
	for _, s := range sessions {
		if err := e.store.EndSession(e.ctx(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	b.Client.CheckRedirect = follow
	if p := b.Get(e.issuer + p.Location); p.Location != "" {
		t.Fatalf("code issued for an ended session: %s", p.Location)
	}
}

// TestCodeNeedsLiveSession: a code whose session ended before it was redeemed (the member signed
// out, or was signed out, in the code's lifetime) gives no tokens: the client would otherwise
// start a session for a sid already logged out (its back-channel logout came before the tokens).
func TestCodeNeedsLiveSession(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, web.AuthCodeURL("s1"), "alice", "alice-password")
	sessions, err := e.store.Sessions(e.ctx(), "")
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions: %v %d", err, len(sessions))
	}
	for _, s := range sessions {
		if err := e.store.EndSession(e.ctx(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if tok, err := web.Exchange(e.ctx(), code); err == nil {
		t.Fatalf("tokens issued for an ended session: %v", tok.AccessToken != "")
	} else if !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("want invalid_grant: %v", err)
	}
}

// TestHandoffCookieHostPrefix: on https the cookie binding a hand-off ticket to the browser is
// __Host- prefixed like the session cookie (Secure, Path=/, no Domain): a sibling subdomain
// cannot plant its own ticket's nonce in a member's browser and sign her in as someone else
// through a plain /handoff/continue link.
func TestHandoffCookieHostPrefix(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) { c.Issuer = strings.Replace(c.Issuer, "http://", "https://", 1) })
	tok, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hand-off: %d", resp.StatusCode)
	}
	found := false
	for _, set := range resp.Header.Values("Set-Cookie") {
		if !strings.Contains(set, "handoff") {
			continue
		}
		found = true
		if !strings.HasPrefix(set, "__Host-") || !strings.Contains(set, "Secure") || !strings.Contains(set, "Path=/;") ||
			strings.Contains(strings.ToLower(set), "domain=") {
			t.Fatalf("hand-off cookie on https: %s", set)
		}
	}
	if !found {
		t.Fatal("no hand-off cookie set")
	}
}
