package bridge_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestHeadEndSessionThenLogout (session 22's leftover: /logout was GET-only, so a client that
// followed HEAD /end_session's redirect with HEAD got 405): HEAD /end_session and HEAD on the
// /logout?t= it redirects to, with the member's browser, answer 302 then 200 (the sign-out
// page) and sign nobody out, set no cookie and leave the ticket usable: its GET afterwards
// signs the member out at once. Without a session, HEAD /logout answers GET's redirect; a
// ticket that does not open is 400 for both; /logout/done and /logout/return answer HEAD as
// GET; /logout/ams (whose GET signs out) refuses it, naming GET.
func TestHeadEndSessionThenLogout(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("w"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	// send is a request of client c (its cookies), answered by the endpoint (no redirect followed).
	send := func(c *http.Client, method, u string) (*http.Response, string) {
		t.Helper()
		cc := *c
		cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest(method, u, nil)
		resp, err := cc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	account := func() int {
		t.Helper()
		return b.Get(e.issuer + "/account").Status
	}

	es := e.issuer + "/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {e.rp + "/signed-out"}}.Encode()
	r, body := send(b.Client, http.MethodHead, es)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/logout?t=") || body != "" {
		t.Fatalf("HEAD end_session: %d %q %q, want 302 to the sign-out page", r.StatusCode, loc, body)
	}
	logoutURL := e.issuer + loc
	for i := range 2 { // twice: the first HEAD used nothing up
		r, body = send(b.Client, http.MethodHead, logoutURL)
		if r.StatusCode != http.StatusOK || body != "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
			len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("HEAD %d of the sign-out page with a session: %d %q Content-Type %q Set-Cookie %q, want 200, no body, no cookie",
				i+1, r.StatusCode, body, r.Header.Get("Content-Type"), r.Header.Values("Set-Cookie"))
		}
		if got := account(); got != http.StatusOK {
			t.Fatalf("after HEAD %d /logout: /account %d, want the member still signed in", i+1, got)
		}
	}
	// The same redirect followed by a client that follows HEAD's redirects itself (curl -I -L).
	follow := *b.Client
	req, _ := http.NewRequest(http.MethodHead, es, nil)
	r, err = follow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK || r.Request.URL.Path != "/logout" {
		t.Errorf("HEAD end_session, redirects followed: %d at %s, want 200 at /logout", r.StatusCode, r.Request.URL)
	}
	if got := account(); got != http.StatusOK {
		t.Fatalf("after HEAD end_session followed: /account %d, want the member still signed in", got)
	}

	// No session: HEAD answers GET's redirect, a ticket that does not open is 400.
	anon := e.browser().Client
	head, _ := send(anon, http.MethodHead, logoutURL)
	get, _ := send(anon, http.MethodGet, logoutURL)
	if head.StatusCode != http.StatusSeeOther || head.Header.Get("Location") != e.rp+"/signed-out" ||
		get.StatusCode != head.StatusCode || get.Header.Get("Location") != head.Header.Get("Location") {
		t.Errorf("/logout without a session: HEAD %d %q, GET %d %q, want both 303 to the app", head.StatusCode,
			head.Header.Get("Location"), get.StatusCode, get.Header.Get("Location"))
	}
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		if r, _ := send(b.Client, m, e.issuer+"/logout?t=forged"); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s /logout with a forged ticket: %d, want 400", m, r.StatusCode)
		}
	}
	for _, c := range []struct {
		path     string
		status   int
		location string
	}{
		{"/logout/done", http.StatusOK, ""},
		{"/logout/return", http.StatusSeeOther, "/logout/done"},
	} {
		r, body := send(b.Client, http.MethodHead, e.issuer+c.path)
		if r.StatusCode != c.status || r.Header.Get("Location") != c.location || body != "" {
			t.Errorf("HEAD %s: %d %q %q, want %d %q", c.path, r.StatusCode, r.Header.Get("Location"), body, c.status, c.location)
		}
	}
	if r, _ := send(b.Client, http.MethodHead, e.issuer+"/logout/ams"); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET" {
		t.Errorf("HEAD /logout/ams: %d Allow %q, want 405 GET", r.StatusCode, r.Header.Get("Allow"))
	}
	if got := account(); got != http.StatusOK {
		t.Fatalf("after the HEADs: /account %d, want the member still signed in", got)
	}

	// The ticket the HEADs carried signs the member out with GET.
	r, _ = send(b.Client, http.MethodGet, logoutURL)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != e.rp+"/signed-out" {
		t.Errorf("GET /logout with the ticket: %d %q, want 303 to the app", r.StatusCode, r.Header.Get("Location"))
	}
	if got := account(); got != http.StatusUnauthorized {
		t.Errorf("after GET /logout: /account %d, want 401", got)
	}
}
