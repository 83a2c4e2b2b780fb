package bridge_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestHandoffStayGoesOnToTheWaitingApp (brief H2 item 1, s18): on /handoff/confirm, "Stay
// signed in as <member>" takes the browser's session, the member the page named, on to the app
// that was waiting (the request remembered by /handoff/start), through the completion every
// sign-in takes: a code for that member, or the app's access rule and second-factor step. It
// writes no session for the hand-off's member. Without a request waiting it goes to the default
// app (here the account page); a replayed form, a request gone or finished meanwhile, and another
// member signed in since (a new CSRF token: the form is refused) complete nothing twice and never
// for someone the page did not name. Before, the stay dropped the waiting request and went to
// the account page (the "with a pending request" subtest fails so).
func TestHandoffStayGoesOnToTheWaitingApp(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "other" {
				c.Clients[i].MFA = "required"
			}
		}
		c.Policy.Policies = map[string]policy.ClientPolicy{"third": {AccessRule: `member.is_current`}}
	})
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	exchanger, _ := e.oauth("exchanger", webSecret, e.rp+"/exchanger", oauth2.AuthStyleInHeader)

	// waiting opens authURL's login page in a new browser and presses the hand-off button
	// (the request is remembered), then bob signs in to the server app in another tab, and the
	// AMS website hands alice off: the page asks bob whether to switch. It returns the browser,
	// the request's id and the confirmation page.
	waiting := func(t *testing.T, authURL string) (*bridgetest.Browser, string, *bridgetest.Page) {
		t.Helper()
		b := e.browser()
		id := ""
		if authURL != "" {
			f := b.Get(authURL).Hidden()
			id = f.Get("id")
			b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {id}})
		}
		if p := b.Login(b.Get(exchanger.AuthCodeURL("m")), "bob", "bob-password"); p.Location == "" {
			t.Fatalf("bob's sign-in to the server app: %d %.300s", p.Status, p.Body)
		}
		p := amsPost(t, e, b, url.Values{"refresh_token": {mustToken(t, e, "alice")}})
		if !strings.Contains(p.Body, "Switch member?") || !strings.Contains(p.Body, "Bob Staff") {
			t.Fatalf("no confirmation page naming bob: %d %.300s", p.Status, p.Body)
		}
		return b, id, p
	}
	stay := func(b *bridgetest.Browser, confirm *bridgetest.Page) *bridgetest.Page {
		f := confirm.Hidden()
		return b.Post(e.issuer+bridge.PathHandoffConfirm, url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"stay"}})
	}
	emailOf := func(t *testing.T, code string) string {
		t.Helper()
		tok, err := web.Exchange(e.ctx(), code)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c idClaims
		_ = idt.Claims(&c)
		return c.Email
	}
	signedInAs := func(t *testing.T, b *bridgetest.Browser, login string) {
		t.Helper()
		if acc := b.Get(e.issuer + "/account"); acc.Status != http.StatusOK || !strings.Contains(acc.Body, login) {
			t.Fatalf("the browser is not %s's: %d %.300s", login, acc.Status, acc.Body)
		}
	}
	noAliceSignIn := func(t *testing.T) {
		t.Helper()
		ev, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "login.success", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ev {
			if x.Login == "alice" {
				t.Fatalf("alice was signed in: %+v", x)
			}
		}
	}

	t.Run("with a pending request", func(t *testing.T) {
		b, _, confirm := waiting(t, web.AuthCodeURL("st", oidc.Nonce("nn")))
		out := stay(b, confirm)
		q := out.Redirected(t)
		if q.Get("code") == "" || q.Get("state") != "st" {
			t.Fatalf("the stay did not go on to the waiting app: %v", q)
		}
		if got := emailOf(t, q.Get("code")); got != "bob@example.org" {
			t.Fatalf("the waiting app got %q, want bob", got)
		}
		signedInAs(t, b, "bob")
		noAliceSignIn(t)

		// The same form again: the request was finished and forgotten; nothing is completed
		// again, the browser goes to the default app (the account page), still bob's.
		again := stay(b, confirm)
		if again.Location != "" || again.URL.Path != "/account" || !strings.Contains(again.Body, "bob") {
			t.Fatalf("replayed stay: %d %s %q %.200s", again.Status, again.URL, again.Location, again.Body)
		}
		noAliceSignIn(t)
	})

	t.Run("without a pending request", func(t *testing.T) {
		b, _, confirm := waiting(t, "")
		out := stay(b, confirm)
		if out.Location != "" || out.URL.Path != "/account" || !strings.Contains(out.Body, "bob") {
			t.Fatalf("stay without a waiting app: %d %s %q", out.Status, out.URL, out.Location)
		}
		noAliceSignIn(t)
	})

	t.Run("the waiting app asks a second factor", func(t *testing.T) {
		b, _, confirm := waiting(t, other.AuthCodeURL("o"))
		out := stay(b, confirm)
		if out.Location != "" || !strings.HasPrefix(out.URL.Path, "/login/mfa") {
			t.Fatalf("stay for an app that requires a second factor: %d %s %q", out.Status, out.URL, out.Location)
		}
		signedInAs(t, b, "bob")
	})

	t.Run("the waiting app's access rule refuses the member", func(t *testing.T) {
		b, id, confirm := waiting(t, third.AuthCodeURL("th"))
		out := stay(b, confirm)
		if out.Status != http.StatusForbidden || out.Location != "" || !strings.Contains(out.Body, "not available with your membership") {
			t.Fatalf("stay for an app whose rule refuses bob: %d %q %.200s", out.Status, out.Location, out.Body)
		}
		if ar, err := e.store.AuthRequest(context.Background(), id); err != nil || ar.Done {
			t.Fatalf("the refused request: done %v, %v", ar != nil && ar.Done, err)
		}
	})

	t.Run("the pending request expired", func(t *testing.T) {
		b, id, confirm := waiting(t, web.AuthCodeURL("ex"))
		expireAuthRequest(t, e, id)
		out := stay(b, confirm)
		if out.Location != "" || out.URL.Path != "/account" || !strings.Contains(out.Body, "bob") {
			t.Fatalf("stay after the request expired: %d %s %q", out.Status, out.URL, out.Location)
		}
	})

	t.Run("the pending request was finished in another tab", func(t *testing.T) {
		b, id, confirm := waiting(t, web.AuthCodeURL("tab"))
		// The request's login page opened again in another tab: bob's session answers it.
		if q := b.Get(e.issuer + "/login?id=" + url.QueryEscape(id)).Redirected(t); q.Get("code") == "" {
			t.Fatalf("the other tab: %v", q)
		}
		out := stay(b, confirm)
		if out.Status != http.StatusConflict || out.Location != "" || !strings.Contains(out.Body, "already used") {
			t.Fatalf("stay after the request was finished: %d %q %.200s", out.Status, out.Location, out.Body)
		}
		noAliceSignIn(t)
	})

	t.Run("the member may no longer sign in", func(t *testing.T) {
		b, id, confirm := waiting(t, web.AuthCodeURL("locked"))
		e.dir.Update("bob", func(m *legacy.Member) { m.Standing.LockedOut = true })
		defer e.dir.Update("bob", func(m *legacy.Member) { m.Standing.LockedOut = false })
		// The request's login page ends bob's session and asks, as it does for any session.
		out := stay(b, confirm)
		if out.Location != "" || out.URL.Path != "/login" || out.Hidden().Get("id") != id || !strings.Contains(out.Body, `name="password"`) {
			t.Fatalf("stay for a member locked out since: %d %s %q %.300s", out.Status, out.URL, out.Location, out.Body)
		}
		if acc := b.Get(e.issuer + "/account"); strings.Contains(acc.Body, "Bob Staff") {
			t.Fatalf("bob's session outlived his lock-out: %.200s", acc.Body)
		}
	})

	t.Run("another member signed in in between", func(t *testing.T) {
		e.dir.Add(&legacy.Member{Key: "44444444-4444-4444-4444-444444444444", MemberID: "1004", Login: "carol",
			Email: "carol@example.org", FullName: "Carol Clerk", Status: "A",
			Standing: legacy.Standing{Approved: true}}, "carol-password")
		b, id, confirm := waiting(t, web.AuthCodeURL("between", oidc.Nonce("nn")))
		// Carol signs in in another tab (the server app asks for a fresh sign-in).
		login := b.Get(exchanger.AuthCodeURL("c", oauth2.SetAuthURLParam("prompt", "login")))
		if p := b.Login(login, "carol", "carol-password"); p.Location == "" {
			t.Fatalf("carol's sign-in: %d %.300s", p.Status, p.Body)
		}
		// The page named bob: its form is refused (a sign-in gives the browser a new CSRF
		// token) and nothing is completed.
		if out := stay(b, confirm); out.Status != http.StatusForbidden || out.Location != "" {
			t.Fatalf("a stay for bob after carol signed in: %d %q %.200s", out.Status, out.Location, out.Body)
		}
		signedInAs(t, b, "carol")
		if ar, err := e.store.AuthRequest(context.Background(), id); err != nil || ar.Done {
			t.Fatalf("the waiting request after the refused form: done %v, %v", ar != nil && ar.Done, err)
		}
		// The hand-off's page opened again names carol; staying goes on as her.
		again := b.Get(confirm.URL.String())
		if !strings.Contains(again.Body, "Carol Clerk") {
			t.Fatalf("the confirmation page again: %d %.300s", again.Status, again.Body)
		}
		q := stay(b, again).Redirected(t)
		if got := emailOf(t, q.Get("code")); got != "carol@example.org" || q.Get("state") != "between" {
			t.Fatalf("the waiting app got %q (state %q), want carol", got, q.Get("state"))
		}
		noAliceSignIn(t)
	})
}

// mustToken issues an AMS refresh token for login at the simulated AMS website.
func mustToken(t *testing.T, e *env, login string) string {
	t.Helper()
	tok, err := e.amsSim.IssueRefreshToken(login, "ssobridge")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expireAuthRequest makes the sign-in request id expired in e's store (as its lifetime would).
func expireAuthRequest(t *testing.T, e *env, id string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec(`UPDATE auth_requests SET expires_at = 1 WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("no auth request %q", id)
	}
}
