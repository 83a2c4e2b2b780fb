package bridge_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserLoginAtAuthorize: the app's sign-in link is answered with the login form at
// /authorize itself (no redirect to /login), never cached and with no referrer; the form posts
// to the bridge's /login; a reload starts a new request; the form of this browser's request
// posted from another browser is refused; the member signs in; the back button goes through
// the session straight back to the app.
func TestBrowserLoginAtAuthorize(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, addClient)
	rp.connect(e)
	ctx := newChrome(t)

	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(rp.srv.URL+"/start"))
	if err != nil {
		t.Fatalf("open the app's sign-in link: %v", err)
	}
	if !strings.HasPrefix(resp.URL, e.issuer+"/authorize?") || resp.Status != 200 ||
		resp.Headers["Cache-Control"] != "no-store" || resp.Headers["Referrer-Policy"] != "no-referrer" {
		t.Fatalf("login page: %s %d Cache-Control %q Referrer-Policy %q", resp.URL, resp.Status,
			resp.Headers["Cache-Control"], resp.Headers["Referrer-Policy"])
	}
	type form struct {
		Path, Action, ID string
	}
	read := `(() => { const f = document.querySelector("#password").form;
		return {Path: location.pathname, Action: f.action, ID: f.elements.id.value}; })()`
	first, err := chromedp.Run(ctx, chromedp.Evaluate[form](read))
	if err != nil {
		t.Fatal(err)
	}
	if first.Path != "/authorize" || first.Action != e.issuer+"/login" || first.ID == "" {
		t.Fatalf("login form %+v, want at /authorize posting to %s/login", first, e.issuer)
	}

	// A reload asks /authorize again: a new request, a new form.
	if _, err := chromedp.RunResponse(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	second, err := chromedp.Run(ctx, chromedp.Evaluate[form](read))
	if err != nil {
		t.Fatal(err)
	}
	if second.Path != "/authorize" || second.ID == "" || second.ID == first.ID {
		t.Fatalf("after a reload %+v (before %+v)", second, first)
	}

	// Another browser, with a login form of its own, posts this browser's request: refused.
	other := newChrome(t)
	if err := chromedp.Do(other,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SetValue(css(`input[name=id]`), second.ID),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
	); err != nil {
		t.Fatalf("other browser: %v", err)
	}
	resp, err = chromedp.RunResponse(other, chromedp.Click(css("button[type=submit].primary")))
	if err != nil {
		t.Fatalf("other browser's post: %v", err)
	}
	if got := text(t, other, "main"); resp.Status != 403 || !strings.Contains(got, "another browser") {
		t.Fatalf("the form posted from another browser: %d %q", resp.Status, got)
	}

	// This browser signs in with it.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if got := text(t, ctx, "#result"); !strings.HasPrefix(got, "signed in: Alice Archer") {
		t.Fatalf("result %q", got)
	}
	// Back: /authorize again (never cached), answered by the session, straight to the app.
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatalf("back: %v", err)
	}
	if err := pollSelector(ctx, "#result"); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("after the back button: %v: %.500s", err, page)
	}
}
