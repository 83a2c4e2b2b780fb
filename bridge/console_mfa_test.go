package bridge_test

import (
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// consoleEnvMFA runs a bridge with the console (admins holding SysAdmin: bob) whose
// admin.console.require_second_factor is require (nil: unset, the default), logging to logged;
// it returns the console's origin.
func consoleEnvMFA(t *testing.T, require *bool, logged *lockedBuffer) (*env, string) {
	t.Helper()
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvDeps(t, false, nil, envDeps{logger: slog.New(slog.NewJSONHandler(logged, nil))}, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.Admin.Listen = aln.Addr().String()
		c.Admin.Console.Roles = []string{"SysAdmin"}
		c.Admin.Console.RequireSecondFactor = require
	})
	srv := httptest.NewUnstartedServer(e.bridge.AdminHandler())
	srv.Listener.Close()
	srv.Listener = aln
	srv.Start()
	t.Cleanup(srv.Close)
	return e, "http://" + aln.Addr().String()
}

// visitAll GETs u with b's cookies, following every redirect (the console's origin and the
// bridge's), and returns where it ends.
func visitAll(t *testing.T, b *bridgetest.Browser, u string) *bridgetest.Page {
	t.Helper()
	client := *b.Client
	client.CheckRedirect = nil
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 8192)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return &bridgetest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: sb.String(), Header: resp.Header}
}

// atConsole reports whether p is a console page (not the bridge's sign-in).
func atConsole(p *bridgetest.Page, console string) bool {
	return "http://"+p.URL.Host == console && strings.HasPrefix(p.URL.Path, "/console/") && p.Status == http.StatusOK
}

var continueRe = regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`)

// TestConsoleRequiresSecondFactor: by default the admin console opens only after a second
// factor (review F6). An administrator's password alone does not open it: the console's sign-in
// asks the bridge for a second factor (acr_values), and bob, who has none, is taken through
// enrolment of an authenticator app at the bridge's second-factor step; then the console opens.
// Nothing is said at start. Before, the password alone opened the console.
func TestConsoleRequiresSecondFactor(t *testing.T) {
	var logged lockedBuffer
	e, console := consoleEnvMFA(t, nil, &logged)
	if strings.Contains(logged.String(), "require_second_factor") {
		t.Errorf("a warning with the default: %s", logged.String())
	}
	// bob is signed in to an app in another browser with his password (no factor yet).
	portal := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(portal, web.AuthCodeURL("s"), "bob", "bob-password")

	b := e.browser()
	p := visitAll(t, b, console+"/console/")
	if p.URL.Path != "/authorize" || p.URL.Query().Get("acr_values") != sso.ACRMFA {
		t.Fatalf("the console's sign-in: %s (%d), want the bridge's login asking for %s", p.URL, p.Status, sso.ACRMFA)
	}
	step := b.Login(p, "bob", "bob-password")
	m := totpSecretRe.FindStringSubmatch(step.Body)
	if step.URL.Path != "/login/mfa" || m == nil || step.Location != "" {
		t.Fatalf("after the password: %s (%d) location %q, want the enrolment step: %.500s", step.URL, step.Status, step.Location, step.Body)
	}
	// The password alone: the console is still closed.
	if q := visitAll(t, b, console+"/console/"); atConsole(q, console) {
		t.Fatalf("the console opened with a password alone: %s", q.URL)
	}
	// A fresh step: the visit above started a new sign-in (and a new step) in this browser.
	step = b.Login(visitAll(t, b, console+"/console/"), "bob", "bob-password")
	m = totpSecretRe.FindStringSubmatch(step.Body)
	if m == nil {
		t.Fatalf("no enrolment at the second sign-in: %.500s", step.Body)
	}
	f := step.Hidden()
	done := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"enrol"}, "code": {totpCode(t, m[1], 0)}})
	next := continueRe.FindStringSubmatch(done.Body)
	if next == nil {
		t.Fatalf("enrolment: %d %.500s", done.Status, done.Body)
	}
	back := b.Get(e.issuer + html.UnescapeString(next[1]))
	if !strings.HasPrefix(back.Location, console+"/console/callback") {
		t.Fatalf("after enrolment: %d %q, want the console's callback", back.Status, back.Location)
	}
	if q := visitAll(t, b, back.Location); !atConsole(q, console) || !strings.Contains(q.Body, "Signed in") {
		t.Fatalf("the console's callback after enrolment: %s (%d) %.300s", q.URL, q.Status, q.Body)
	}
	if q := visitAll(t, b, console+"/console/"); !atConsole(q, console) {
		t.Fatalf("the console after enrolment: %s (%d)", q.URL, q.Status)
	}
	// The browser whose bridge session has the password alone: the console's sign-in steps it
	// up (the authenticator app), then the console opens.
	up := visitAll(t, portal, console+"/console/")
	if up.URL.Path != "/login/mfa" || !strings.Contains(up.Body, `value="totp"`) {
		t.Fatalf("the console from a password session: %s (%d), want the second-factor step: %.300s", up.URL, up.Status, up.Body)
	}
	f = up.Hidden()
	back = portal.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"totp"}, "code": {totpCode(t, m[1], 1)}})
	if !strings.HasPrefix(back.Location, console+"/console/callback") {
		t.Fatalf("after the step-up: %d %q, want the console's callback: %.300s", back.Status, back.Location, back.Body)
	}
	visitAll(t, portal, back.Location)
	if q := visitAll(t, portal, console+"/console/"); !atConsole(q, console) {
		t.Fatalf("the console after the step-up: %s (%d)", q.URL, q.Status)
	}
}

// TestConsoleSecondFactorOptOut: admin.console.require_second_factor: false opens the console
// with a password alone, and says so with a warning at start.
func TestConsoleSecondFactorOptOut(t *testing.T) {
	var logged lockedBuffer
	no := false
	e, console := consoleEnvMFA(t, &no, &logged)
	out := logged.String()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "admin.console.require_second_factor is false") ||
		!strings.Contains(out, `"roles":["SysAdmin"]`) {
		t.Fatalf("no warning naming the setting and the roles at start:\n%s", out)
	}
	b := e.browser()
	p := visitAll(t, b, console+"/console/")
	if p.URL.Query().Get("acr_values") != "" {
		t.Fatalf("the console asked for a second factor: %s", p.URL)
	}
	back := b.Login(p, "bob", "bob-password")
	if !strings.HasPrefix(back.Location, console+"/console/callback") {
		t.Fatalf("after the password: %d %q, want the console's callback", back.Status, back.Location)
	}
	visitAll(t, b, back.Location)
	if q := visitAll(t, b, console+"/console/"); !atConsole(q, console) {
		t.Fatalf("the console with the opt-out: %s (%d)", q.URL, q.Status)
	}
}
