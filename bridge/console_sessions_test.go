package bridge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestConsoleSignOutEndsSession (review s10 V3), in Chromium: the console's session is kept by
// the bridge, so that signing out on the page ends it for every copy of its cookie (before, a
// copy of the cookie, with the CSRF token the pages carry, kept opening the console and acting
// in it for up to 12 hours), and an administrator ending the member's sessions through the
// admin API ends their console session too.
func TestConsoleSignOutEndsSession(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, console := consoleEnv(t)
	bg := context.Background()
	ctx := consoleChrome(t)
	consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")
	csrf, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('input[name=csrf]').value`))
	if err != nil || csrf == "" {
		t.Fatalf("the page's CSRF token: %q %v", csrf, err)
	}
	copied := consoleCookie(t, ctx, console)
	if copied == nil {
		t.Fatal("no console cookie")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, console+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", console)
		}
		req.Header.Set("Cookie", copied.Name+"="+copied.Value)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + "\n" + string(b)
	}
	if code, _ := do("GET", "/console/clients", nil); code != http.StatusOK {
		t.Fatalf("the copied cookie before sign-out: %d", code)
	}

	submit(t, ctx, "button.link", "#signed-out")
	if c := consoleCookie(t, ctx, console); c != nil {
		t.Fatalf("console cookie after sign-out: %+v", c)
	}
	if code, loc := do("GET", "/console/clients", nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?") {
		t.Fatalf("the copied cookie after sign-out opened the console: %d %s", code, loc)
	}
	if code, page := do("POST", "/console/sessions/revoke", url.Values{"csrf": {csrf}, "member": {"alice"}}); code != http.StatusForbidden ||
		!strings.Contains(page, "Signed out") {
		t.Fatalf("a form with the copied cookie after sign-out: %d", code)
	}
	if evs, _ := e.store.AuditEvents(bg, store.AuditFilter{Event: "admin.sessions_revoke"}); len(evs) != 0 {
		t.Fatalf("the signed-out cookie ended sessions: %+v", evs[0])
	}

	// Signed in again (the bridge session answers at once): the admin API ends bob's sessions,
	// and with them his console session.
	visit(t, ctx, console+"/console/", "#welcome")
	if copied = consoleCookie(t, ctx, console); copied == nil {
		t.Fatal("no console cookie after signing in again")
	}
	if code, _ := do("GET", "/console/", nil); code != http.StatusOK {
		t.Fatalf("the new cookie: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, console+"/admin/sessions/revoke", bytes.NewReader([]byte(`{"login":"bob"}`)))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API end sessions: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, loc := do("GET", "/console/", nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?") {
		t.Fatalf("the console after the admin API ended bob's sessions: %d %s", code, loc)
	}
	// The browser is sent to sign in again, at the bridge's form (its session ended too).
	visit(t, ctx, console+"/console/clients", "#login")
}
