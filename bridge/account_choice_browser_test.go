package bridge_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserSelectAccount: in Chromium, an app's prompt=select_account with a live session
// shows the account choice naming the member; "Use another account" shows the login form of
// the same request and another member signs in; the app gets that member; the next
// select_account names them, and "Continue as" goes straight to the app.
func TestBrowserSelectAccount(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, addClient)
	rp.connect(e)
	ctx := newChrome(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	selectURL := rp.cfg.AuthCodeURL("browser-state", oidc.Nonce("browser-nonce"), oauth2.SetAuthURLParam("prompt", "select_account"))

	if err := chromedp.Do(ctx, chromedp.Navigate(selectURL), chromedp.WaitVisible(css("#continue"))); err != nil {
		t.Fatalf("account choice: %v", err)
	}
	if got := text(t, ctx, "#signed-in-as"); got != "Alice Archer (alice)" {
		t.Fatalf("account choice names %q", got)
	}
	if got := text(t, ctx, "#continue"); got != "Continue as Alice Archer (alice)" {
		t.Fatalf("continue button %q", got)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(css("#use-another")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#login"), "bob"),
		chromedp.SendKeys(css("#password"), "bob-password"),
		chromedp.Click(css("button[type=submit].primary")),
	); err != nil {
		t.Fatalf("use another account: %v", err)
	}
	if err := pollSelector(ctx, "#result"); err != nil {
		t.Fatalf("after signing in as bob: %v", err)
	}
	if got := text(t, ctx, "#result"); !strings.HasPrefix(got, "signed in: Bob Staff") {
		t.Fatalf("the app got %q, want bob", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(selectURL), chromedp.WaitVisible(css("#continue"))); err != nil {
		t.Fatalf("account choice again: %v", err)
	}
	if got := text(t, ctx, "#signed-in-as"); got != "Bob Staff (bob)" {
		t.Fatalf("account choice names %q, want bob", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("#continue"))); err != nil {
		t.Fatalf("continue: %v", err)
	}
	if err := pollSelector(ctx, "#result"); err != nil {
		t.Fatalf("after continue: %v", err)
	}
	if got := text(t, ctx, "#result"); !strings.HasPrefix(got, "signed in: Bob Staff") {
		t.Fatalf("the app got %q, want bob", got)
	}
}
