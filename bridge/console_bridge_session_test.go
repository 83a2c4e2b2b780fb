package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestConsoleEndsWithBridgeSession (session 12, OWASP ASVS 3.3.1), in Chromium: a console
// session belongs to the bridge session it was signed in with, so every way that bridge session
// ends ends the console session too, for every copy of its cookie: an administrator ending it
// by id (admin API; the console's and the CLI's "end sessions" run the same service), the
// bridge's sign-out page (the account page's "Sign out everywhere"), RP-initiated logout
// (end_session) and the AMS website's sign-out (/logout/ams). Before, each left the console
// open for up to 12 hours. Each console session so ended has its console.session_ended audit
// row (before session 14, a trigger ended it without one).
func TestConsoleEndsWithBridgeSession(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, console := consoleEnvWith(t, true)
	ctx := consoleChrome(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(ck *network.Cookie) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, console+"/console/clients", nil)
		req.Header.Set("Cookie", ck.Name+"="+ck.Value)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Location")
	}
	// signOutPage confirms the bridge's sign-out page and waits until the browser is signed out.
	signOutPage := func(t *testing.T, u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(css("form.actions button.primary"))); err != nil {
			t.Fatalf("the sign-out page %s: %v", u, err)
		}
		submit(t, ctx, "form.actions button.primary", "#signed-out")
	}
	a := adminClient{t: t, url: console}
	// ended is the console.session_ended audit rows, newest first.
	ended := func(t *testing.T) []*store.AuditEvent {
		t.Helper()
		evs, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "console.session_ended"})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	for _, tc := range []struct {
		name string
		end  func(t *testing.T)
	}{
		{"admin API by id", func(t *testing.T) {
			l := a.ok(http.MethodGet, "/admin/sessions?login=bob", nil)["sessions"].([]any)
			if len(l) != 1 {
				t.Fatalf("bob's bridge sessions: %v", l)
			}
			id := l[0].(map[string]any)["id"].(string)
			if n := a.ok(http.MethodPost, "/admin/sessions/revoke", map[string]string{"id": id})["ended"]; n != 1.0 {
				t.Fatalf("end by id: %v", n)
			}
		}},
		{"sign-out page", func(t *testing.T) { signOutPage(t, e.issuer+"/logout") }},
		{"end_session", func(t *testing.T) { signOutPage(t, e.issuer+"/end_session") }},
		{"AMS website's sign-out", func(t *testing.T) {
			_, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: e.issuer + "/logout/ams", Referrer: e.issuer + "/demo-ams/"})
			if err == nil {
				err = chromedp.Do(ctx, chromedp.WaitVisible(css("#signed-out")))
			}
			if err != nil {
				t.Fatalf("/logout/ams from the AMS website: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts signed out in the browser, whatever the one before left.
			if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
			consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")
			ck := consoleCookie(t, ctx, console)
			if ck == nil {
				t.Fatal("no console cookie")
			}
			if code, _ := get(ck); code != http.StatusOK {
				t.Fatalf("the console before the bridge session ended: %d", code)
			}
			before := ended(t)
			tc.end(t)
			if code, loc := get(ck); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?") {
				t.Fatalf("the console after the bridge session ended (%s): %d %s", tc.name, code, loc)
			}
			// Audited once, as the console audits the sessions it ends itself (session 14).
			after := ended(t)
			if len(after) != len(before)+1 {
				t.Fatalf("%d console.session_ended rows after %s, want %d", len(after), tc.name, len(before)+1)
			}
			if ev := after[0]; ev.Login != "bob" || ev.ClientID != "ssobridge-console" || ev.Detail != store.EndBridgeSessionEnded || ev.Subject == "" {
				t.Fatalf("audit row %+v", ev)
			}
		})
	}
}
