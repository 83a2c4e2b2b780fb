package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/web/handoff"
	"github.com/ssobridge/ssobridge/bridge/web/playground"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/legacy"
)

// fitsWidth fails the test when the page in ctx scrolls sideways: the document is wider than
// the viewport. The message names the elements that stick out.
func fitsWidth(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	type result struct {
		Scroll, Inner int
		Over          []string
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(() => {
		const w = window.innerWidth, over = [];
		for (const el of document.querySelectorAll('body *')) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > w + 0.5) over.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
				(el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\s+/g, '.') : '') + ' right=' + Math.round(r.right));
		}
		return {Scroll: document.documentElement.scrollWidth, Inner: w, Over: over.slice(0, 8)};
	})()`))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	if res.Inner != 360 {
		t.Fatalf("%s: viewport %d px wide, want 360", page, res.Inner)
	}
	if res.Scroll > res.Inner {
		t.Errorf("%s: %d px of content in a %d px viewport (scrolls sideways); sticking out: %s", page, res.Scroll, res.Inner,
			strings.Join(res.Over, ", "))
	}
}

// TestMemberPagesFit360 opens every member page in headless Chromium at 360x740 (a small
// phone) for a member with a long name and e-mail address and an app with a long name, and
// checks that none scrolls sideways: home, sign-in (and its error), consent, account, device
// (and its error), sign-out (confirmation and done), and the error pages (404, a protocol
// error).
func TestMemberPagesFit360(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	const long = "Journal of the International Association for Extraordinarily Long Application Names"
	// The app: a page the browser arrives at once the sign-in has ended.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>app</title><p id="app-arrived">signed in</p>`))
	}))
	t.Cleanup(app.Close)
	redirect := app.URL + "/app/long"
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "long-app-identifier-without-any-spaces-at-all", Name: long, Secret: webSecret,
			RedirectURIs: []string{redirect}})
		c.Organisation.Name = "The Extraordinarily Long-Named Professional Association of Somewhere"
	})
	e.dir.Add(&legacy.Member{Key: "44444444-4444-4444-4444-444444444444", MemberID: "100000000004", Login: "maximilianalexandervonlongname",
		Email:     "maximilian.alexander.von.longname-hyphenated@membership-services.example-association.org",
		GivenName: "Maximilian-Alexander", FamilyName: "Von Longname-Hyphenated", FullName: "Maximilian-Alexander Wolfgang Von Longname-Hyphenated",
		Status: "A", Standing: legacy.Standing{Approved: true}, Roles: []string{"Member"}}, "long-password")
	ctx := newChrome(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	authorize := e.issuer + "/authorize?" + url.Values{"client_id": {"long-app-identifier-without-any-spaces-at-all"},
		"redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid profile email"}, "state": {"s"}}.Encode()
	step := func(page string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, append(actions, chromedp.Sleep(50*time.Millisecond))...); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		fitsWidth(t, ctx, page)
	}
	step("home", chromedp.Navigate(e.issuer+"/"), chromedp.WaitReady(css("main")))
	step("sign-in", chromedp.Navigate(authorize), chromedp.WaitVisible(css("#login")))
	step("sign-in error",
		chromedp.SendKeys(css("#login"), "maximilianalexandervonlongname"),
		chromedp.SendKeys(css("#password"), "wrong"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#login-error")))
	step("consent",
		chromedp.SendKeys(css("#password"), "long-password"), // the login is kept
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("button[value=allow]")))
	// Allowing sends the browser to the app; once it is there, the account page lists the app
	// twice (signed in, allowed), with its long name.
	step("account", chromedp.Click(css("button[value=allow]")), chromedp.WaitVisible(css("#app-arrived")),
		chromedp.Navigate(e.issuer+"/account"), chromedp.WaitVisible(css("dl.facts")), chromedp.WaitVisible(css("ul.rows")))
	step("security", chromedp.Navigate(e.issuer+"/account/security"), chromedp.WaitVisible(css("#totp-begin")))
	step("authenticator app set-up", chromedp.Click(css("#totp-begin")), chromedp.WaitVisible(css("button[value=totp-confirm]")))
	secret, err := chromedp.Run(ctx, chromedp.Text(css("#totp-secret")))
	if err != nil {
		t.Fatal(err)
	}
	step("recovery codes",
		chromedp.SendKeys(css("#code"), totpCode(t, strings.TrimSpace(secret), 0)),
		chromedp.Click(css("button[value=totp-confirm]")),
		chromedp.WaitVisible(css("#recovery-codes")))
	step("device", chromedp.Navigate(e.issuer+bridge.PathDevice), chromedp.WaitVisible(css("#user_code")))
	step("device error",
		chromedp.SendKeys(css("#user_code"), "WXYZ-WXYZ"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#device-error")))
	step("sign-out", chromedp.Navigate(e.issuer+"/logout"), chromedp.WaitVisible(css("button[type=submit].primary")))
	step("signed out", chromedp.Click(css("button[type=submit].primary")), chromedp.WaitVisible(css("#signed-out")))
	step("second-factor step",
		chromedp.Navigate(authorize), chromedp.WaitVisible(css("#login")),
		chromedp.SetValue(css("#login"), "maximilianalexandervonlongname"),
		chromedp.SendKeys(css("#password"), "long-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#code")))
	step("playground", chromedp.Navigate(e.issuer+playground.Path), chromedp.WaitReady(css("main")))
	step("hand-off address opened directly", chromedp.Navigate(e.issuer+handoff.Path), chromedp.WaitReady(css("main")))
	step("not found", chromedp.Navigate(e.issuer+"/no-such-page/"+strings.Repeat("x", 80)), chromedp.WaitReady(css("main")))
	step("protocol error", chromedp.Navigate(e.issuer+"/authorize?client_id=no-such-client-"+strings.Repeat("y", 60)+
		"&response_type=code&scope=openid"), chromedp.WaitReady(css("main")))
}
