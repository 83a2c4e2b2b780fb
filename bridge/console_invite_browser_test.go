package bridge_test

import (
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestConsoleIssueInvite (brief M3 3): the console's member page issues a member's enrolment
// invitation (mfa.first_enrolment: invitation) with a button shown while the member has no
// second factor; the code is shown once, on the page the POST answers (not in its URL, not on
// the member page again), audited as the admin API's is (admin.mfa_invite, without the code),
// and it enrols the member's first factor. A POST without the console's CSRF token issues none
// (TestConsoleRefusals checks the token for every POST).
func TestConsoleIssueInvite(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, false, invitationFirst, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.Admin.Listen = aln.Addr().String()
		c.Admin.Console.Roles = []string{"SysAdmin"}
		no := false
		c.Admin.Console.RequireSecondFactor = &no
	})
	srv := httptest.NewUnstartedServer(e.bridge.AdminHandler())
	srv.Listener.Close()
	srv.Listener = aln
	srv.Start()
	t.Cleanup(srv.Close)
	console := "http://" + aln.Addr().String()
	ctx := consoleChrome(t)

	// alice signs in with her password (she has no factor yet); her subject is known from then.
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	alice := e.browser()
	e.signIn(alice, web.AuthCodeURL("s"), "alice", "alice-password")

	consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")
	visit(t, ctx, console+"/console/members?login=alice", "#issue-invite")
	submit(t, ctx, "#issue-invite", "#invite-code")
	code := text(t, ctx, "#invite-code")
	if len(strings.ReplaceAll(code, "-", "")) != 20 {
		t.Fatalf("invitation code %q", code)
	}
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, code) || strings.Contains(loc, strings.ReplaceAll(code, "-", "")) {
		t.Fatalf("the code is in the page's URL: %s", loc)
	}
	visit(t, ctx, console+"/console/members?login=alice", "#issue-invite")
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, code) {
		t.Fatal("the member page shows the code again")
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.mfa_invite"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("admin.mfa_invite rows: %d, %v; want 1", len(evs), err)
	}
	if strings.Contains(evs[0].Detail, code) || !strings.Contains(evs[0].Detail, "alice") {
		t.Fatalf("audit row %+v", evs[0])
	}

	// The code enrols alice's first authenticator app (and, used, the button goes).
	csrf := alice.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	begun := alice.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	m := totpSecretRe.FindStringSubmatch(begun.Body)
	if m == nil {
		t.Fatalf("no enrolment: %.600s", begun.Body)
	}
	done := alice.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
		"code": {totpCode(t, m[1], 0)}, "invite": {code}})
	if len(recoveryCodeRe.FindAllString(done.Body, -1)) != 10 {
		t.Fatalf("enrolment with the console's code: %d %.600s", done.Status, done.Body)
	}
	visit(t, ctx, console+"/console/members?login=alice", "#reset-factors")
	if page, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, `id="issue-invite"`) {
		t.Fatal("the invitation button is shown for a member with a factor")
	}
}
