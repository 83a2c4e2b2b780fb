package bridge_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// consoleEnv runs a bridge with the admin listener (API and console, admins holding SysAdmin:
// bob in the test directory) and returns the console's origin.
func consoleEnv(t *testing.T) (*env, string) {
	t.Helper()
	return consoleEnvWith(t, false)
}

// consoleEnvWith is consoleEnv, with the demo's simulated AMS website when demo is true.
func consoleEnvWith(t *testing.T, demo bool) (*env, string) {
	t.Helper()
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, demo, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.Admin.Listen = aln.Addr().String()
		c.Admin.Console.Roles = []string{"SysAdmin"}
		// These tests are about the pages: administrators sign in with a password alone (the
		// second factor the console requires by default: console_mfa_test.go).
		no := false
		c.Admin.Console.RequireSecondFactor = &no
	})
	srv := httptest.NewUnstartedServer(e.bridge.AdminHandler())
	srv.Listener.Close()
	srv.Listener = aln
	srv.Start()
	t.Cleanup(srv.Close)
	return e, "http://" + aln.Addr().String()
}

// consoleChrome is headless Chromium at a phone's size (360x740).
func consoleChrome(t *testing.T) context.Context {
	t.Helper()
	ctx := chrome(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// consoleSignIn signs login in to the console through the bridge's own login page.
func consoleSignIn(t *testing.T, ctx context.Context, console, login, password string, wait string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(console+"/console/"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), login),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css(wait)),
	)
	if err != nil {
		t.Fatalf("console sign-in of %s: %v", login, err)
	}
}

// fits fails the test when the page scrolls sideways at the phone's width.
func fits(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil || len(m) != 2 {
		t.Fatalf("%s: measure: %v", page, err)
	}
	if m[0] > m[1] || m[1] != 360 {
		t.Fatalf("%s does not fit 360 px: scrollWidth %d, innerWidth %d", page, m[0], m[1])
	}
}

// visit opens a console page, waits for sel and checks it fits 360 px.
func visit(t *testing.T, ctx context.Context, u, sel string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Navigate(u), chromedp.WaitVisible(css(sel))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("open %s (waiting for %s): %v\n%s", u, sel, err, page)
	}
	fits(t, ctx, u)
}

// submit clicks a button and waits for sel on the page it leads to, which must fit 360 px.
func submit(t *testing.T, ctx context.Context, button, sel string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// The old page is marked, so that waiting for sel never finds it on the page clicked away from.
	if _, err := chromedp.Run(wctx, chromedp.Evaluate[bool](`document.documentElement.dataset.stale = "1"; true`)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(wctx, chromedp.Click(css(button)))
	if err == nil {
		err = waitNewPage(wctx)
	}
	if err == nil {
		err = chromedp.Do(wctx, chromedp.WaitVisible(css(sel)))
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("click %s (waiting for %s): %v\n%s", button, sel, err, page)
	}
	fits(t, ctx, button)
}

// waitNewPage waits until the marked page has been replaced and the new one has loaded (an
// evaluation during the navigation fails and is tried again).
func waitNewPage(ctx context.Context) error {
	for {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete" && !document.documentElement.dataset.stale`))
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestConsoleBrowser: an administrator signs in through the bridge and uses every page in a
// phone-sized browser; every change is in the audit log with the administrator's subject.
func TestConsoleBrowser(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, console := consoleEnv(t)
	ctx := consoleChrome(t)

	// alice has a session and a grant at web; one provisioning delivery is dead, one failing.
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	if _, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	now := time.Now()
	for _, id := range []string{"dead-1", "dead-2", "failing-1"} {
		ev := &store.OutboxEvent{ID: id, Key: "webhook|web|" + id, Type: "user.updated", Channel: "webhook", ClientID: "web",
			Subject: "sub-x", Payload: []byte(`{}`), NextAttempt: now.Add(-time.Minute)}
		if err := e.store.Enqueue(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.ClaimEvents(bg, store.Claim{Now: now, Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"dead-1", "dead-2"} {
		if err := e.store.MarkFailed(bg, id, now.Add(time.Minute), now, "webhook answered 401 Unauthorized", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.MarkFailed(bg, "failing-1", now.Add(time.Minute), now.Add(time.Hour), "webhook answered 503", false); err != nil {
		t.Fatal(err)
	}

	consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")
	fits(t, ctx, "overview")
	if w := text(t, ctx, "#welcome"); !strings.Contains(w, "bob") {
		t.Fatalf("overview: %q", w)
	}

	// Clients: list, add (secret shown once), edit, rotate, remove.
	visit(t, ctx, console+"/console/clients", "#clients")
	if l := text(t, ctx, "#clients"); !strings.Contains(l, "web") || !strings.Contains(l, "configuration file") {
		t.Fatalf("clients: %q", l)
	}
	visit(t, ctx, console+"/console/clients/web", "#static")
	visit(t, ctx, console+"/console/clients/new", "#redirect-rules")
	if r := text(t, ctx, "#redirect-rules"); !strings.Contains(r, "exactly") || !strings.Contains(r, "loopback") {
		t.Fatalf("redirect-URI rules: %q", r)
	}
	// A refused registration shows the form again with the reason.
	err := chromedp.Do(ctx, chromedp.SendKeys(css("#id"), "newapp"),
		chromedp.SendKeys(css("#redirect_uris"), "http://app.example.org/cb"))
	if err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#save", "#form-error")
	if m := text(t, ctx, "#form-error"); !strings.Contains(m, "loopback") {
		t.Fatalf("form error: %q", m)
	}
	err = chromedp.Do(ctx, chromedp.SetValue(css("#redirect_uris"), "https://app.example.org/cb"))
	if err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#save", "#client-secret")
	secret := text(t, ctx, "#client-secret")
	if len(secret) < 32 {
		t.Fatalf("secret %q", secret)
	}
	visit(t, ctx, console+"/console/clients/newapp", "#client-form")
	if err := chromedp.Do(ctx, chromedp.SetValue(css("#name"), "New App"), chromedp.SetValue(css("#mfa"), "required")); err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#save", "#notice")
	stored := func(id string) (*sso.ClientConfig, error) {
		sc, err := e.store.Client(bg, id)
		if err != nil {
			return nil, err
		}
		return sso.DecodeClient(sc)
	}
	if c, err := stored("newapp"); err != nil || c.Name != "New App" || !c.VerifySecret(secret) || c.MFA != sso.MFARequired {
		t.Fatalf("edited client: %+v %v", c, err)
	}
	submit(t, ctx, "#rotate", "#client-secret")
	if rotated := text(t, ctx, "#client-secret"); rotated == secret || len(rotated) < 32 {
		t.Fatalf("rotated secret %q", rotated)
	}
	visit(t, ctx, console+"/console/clients/newapp", "#confirm")
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#confirm"), "newapp")); err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#remove", "#notice")
	if _, err := stored("newapp"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("removed client still stored: %v", err)
	}

	// Sessions and tokens: alice's, revoke all grants, end all sessions.
	visit(t, ctx, console+"/console/sessions?member=alice", "#tokens")
	if l := text(t, ctx, "#sessions"); !strings.Contains(l, "alice") || !strings.Contains(l, "web") {
		t.Fatalf("sessions: %q", l)
	}
	submit(t, ctx, "#revoke-all", "#notice")
	if n := text(t, ctx, "#notice"); !strings.Contains(n, "Revoked 1 grant") {
		t.Fatalf("revoke notice %q", n)
	}
	submit(t, ctx, "#end-all", "#notice")
	if n := text(t, ctx, "#notice"); !strings.Contains(n, "Ended 1 session") {
		t.Fatalf("end notice %q", n)
	}
	if rts, _ := e.store.ListRefreshTokens(bg, "", "web"); len(rts) != 0 {
		t.Fatalf("grants left: %d", len(rts))
	}
	visit(t, ctx, console+"/console/sessions", "#search")

	// Members: what the bridge sees, consents, linked identities, claims preview for a client.
	alice, err := e.store.SubjectByMemberKey(bg, "11111111-1111-1111-1111-111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutUpstreamLink(bg, &store.UpstreamLink{Issuer: "https://accounts.google.com", UpstreamSubject: "g-alice",
		Subject: alice.Subject, Provider: "google", Email: "alice@gmail.example", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddWebAuthnCredential(bg, &store.WebAuthnCredential{ID: []byte("cred-1"), Subject: alice.Subject,
		Name: "Alice's phone", Data: []byte(`{}`), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	visit(t, ctx, console+"/console/members?login=alice&client=web", "#preview-idtoken")
	if l := text(t, ctx, "#links"); !strings.Contains(l, "google") || !strings.Contains(l, "g-alice") {
		t.Fatalf("linked identities: %q", l)
	}
	if f := text(t, ctx, "#factors"); !strings.Contains(f, "Alice's phone") {
		t.Fatalf("second factors: %q", f)
	}
	if p := text(t, ctx, "#preview-idtoken"); !strings.Contains(p, `"email": "alice@example.org"`) {
		t.Fatalf("claims preview: %q", p)
	}
	if s := text(t, ctx, "#preview-summary"); !strings.Contains(s, "admits the member") {
		t.Fatalf("preview summary: %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#confirm-reset"), "alice")); err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#reset-factors", "#notice")
	if creds, _ := e.store.WebAuthnCredentials(bg, alice.Subject); len(creds) != 0 {
		t.Fatalf("passkeys left after the reset: %d", len(creds))
	}
	visit(t, ctx, console+"/console/members", "#lookup")

	// Provisioning: depth per target, failing, dead letters; retry one, discard the other.
	visit(t, ctx, console+"/console/provisioning", "#dead")
	if d := text(t, ctx, "#dead"); !strings.Contains(d, "dead-1") || !strings.Contains(d, "401 Unauthorized") {
		t.Fatalf("dead letters: %q", d)
	}
	if f := text(t, ctx, "#failing"); !strings.Contains(f, "webhook answered 503") {
		t.Fatalf("failing: %q", f)
	}
	submit(t, ctx, `#dead tr:first-child form[action$="retry"] button`, "#notice")
	submit(t, ctx, `#dead tr:first-child form[action$="discard"] button`, "#no-dead")
	if c, _ := e.store.OutboxCounts(bg); c[store.OutboxDead] != 0 || c[store.OutboxPending] != 2 {
		t.Fatalf("outbox after retry and discard: %v", c)
	}

	// AMS connection: the test button runs each step and shows its trace.
	visit(t, ctx, console+"/console/ams", "#ams-test")
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#login"), "alice")); err != nil {
		t.Fatal(err)
	}
	submit(t, ctx, "#run-test", "#steps")
	if s := text(t, ctx, "#steps"); !strings.Contains(s, "ping: ok") || !strings.Contains(s, "AMS token request") {
		t.Fatalf("AMS steps: %q", s)
	}

	// Audit log: the console's changes, with the administrator's subject.
	visit(t, ctx, console+"/console/audit?event=admin.client_add", "#events")
	if l := text(t, ctx, "#events"); !strings.Contains(l, "newapp") || !strings.Contains(l, "console:bob sub=") {
		t.Fatalf("audit: %q", l)
	}
	since := now.UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	visit(t, ctx, console+"/console/audit?member=alice&since="+since, "#events")
	visit(t, ctx, console+"/console/audit?since=2026-13-01", "#search-error")

	// Sign out: the console's cookie is gone (a new visit signs in again, through the bridge).
	submit(t, ctx, "button.link", "#signed-out")
	if c := consoleCookie(t, ctx, console); c != nil {
		t.Fatalf("console cookie after sign-out: %+v", c)
	}
}

// consoleCookie is the browser's console cookie (nil when it has none).
func consoleCookie(t *testing.T, ctx context.Context, console string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{console + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "ssobridge-console" {
			return c
		}
	}
	return nil
}

// TestConsoleRefusals: a form without or with a wrong CSRF token is refused and changes
// nothing; a member without a console role gets a clear 403 page; the admin API's token does
// not open the console, and the console's cookie does not open the API.
func TestConsoleRefusals(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, console := consoleEnv(t)
	bg := context.Background()
	if _, _, err := e.bridge.Admin().CreateClient(bg, "test", adminClientReg("victim")); err != nil {
		t.Fatal(err)
	}
	ctx := consoleChrome(t)
	consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")

	for _, tamper := range []string{
		`document.querySelector('#confirm').form.querySelector('input[name=csrf]').value = 'wrong'`,
		`document.querySelector('#confirm').form.querySelector('input[name=csrf]').remove()`,
	} {
		visit(t, ctx, console+"/console/clients/victim", "#confirm")
		if err := chromedp.Do(ctx, chromedp.SendKeys(css("#confirm"), "victim")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](tamper+"; true")); err != nil {
			t.Fatal(err)
		}
		submit(t, ctx, "#remove", "#error")
		if m := text(t, ctx, "#error"); !strings.Contains(m, "not acted on") {
			t.Fatalf("CSRF page: %q", m)
		}
		if _, err := e.store.Client(bg, "victim"); err != nil {
			t.Fatalf("a form without its CSRF token removed the client: %v", err)
		}
	}
	evs, _ := e.store.AuditEvents(bg, store.AuditFilter{Event: "console.csrf_failure"})
	if len(evs) != 2 {
		t.Fatalf("CSRF failures audited: %d", len(evs))
	}

	// The console cookie, taken out of the browser.
	cookie := consoleCookie(t, ctx, console)
	if cookie == nil {
		t.Fatal("no console cookie")
	}
	if !cookie.HTTPOnly || cookie.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("console cookie flags: %+v", cookie)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, console+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(b)
	}
	if code, body := get("/console/clients", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}); code != 200 || !strings.Contains(body, "victim") {
		t.Fatalf("the cookie itself does not work: %d", code)
	}
	if code, body := get("/admin/clients", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}); code != http.StatusUnauthorized {
		t.Fatalf("console cookie opened the API: %d %s", code, body)
	}
	if code, _ := get("/admin/clients", map[string]string{"Authorization": "Bearer " + cookie.Value}); code != http.StatusUnauthorized {
		t.Fatalf("console cookie as a bearer token opened the API: %d", code)
	}
	if code, loc := get("/console/clients", map[string]string{"Authorization": "Bearer " + adminToken}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login") {
		t.Fatalf("admin token opened the console: %d %s", code, loc)
	}
	if code, loc := get("/console/clients", map[string]string{"Cookie": cookie.Name + "=" + adminToken}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login") {
		t.Fatalf("admin token as the console cookie opened the console: %d %s", code, loc)
	}
	// A POST from another origin is refused even with the cookie and token.
	form := url.Values{"csrf": {"x"}, "confirm": {"victim"}}
	req, _ := http.NewRequest(http.MethodPost, console+"/console/clients/victim/remove", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %v %v", resp, err)
	}

	// A member without a console role: signed in at the bridge, refused by the console.
	ctx2 := consoleChrome(t)
	consoleSignIn(t, ctx2, console, "alice", "alice-password", "#error")
	fits(t, ctx2, "refusal")
	if m := text(t, ctx2, "#error"); !strings.Contains(m, "does not hold a role") {
		t.Fatalf("non-admin page: %q", m)
	}
	if code, loc := get("/console/", nil); code != http.StatusSeeOther || !strings.Contains(loc, "login") {
		t.Fatalf("console without a session: %d %s", code, loc)
	}
	evs, _ = e.store.AuditEvents(bg, store.AuditFilter{Event: "console.login_refused"})
	if len(evs) != 1 {
		t.Fatalf("refusals audited: %d", len(evs))
	}
}

func adminClientReg(id string) admin.Client {
	return admin.Client{ID: id, Name: id, RedirectURIs: []string{"https://" + id + ".example.org/cb"}}
}
