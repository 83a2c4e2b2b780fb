package bridge_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserAMSSignOutNotBySubresource (review s20 X20-3), in Chromium: an <img> and an
// <iframe> pointing at /logout/ams on a page of the AMS website (the demo's, same origin as the
// bridge here; a member's forum post or profile in production) leave the bridge session, as
// Chromium labels them with Fetch Metadata (no-cors/image, navigate/iframe); the AMS website's
// sign-out link (a top-level navigation with its Referer) still ends it. Before, the image
// signed every viewer of the page out.
func TestBrowserAMSSignOutNotBySubresource(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	e := newEnvWith(t, true, addClient)
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
		t.Fatalf("sign in: %v", err)
	}
	account := func() int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(e.issuer+"/account"))
		if err != nil {
			t.Fatalf("open /account: %v", err)
		}
		return resp.Status
	}
	if got := account(); got != http.StatusOK {
		t.Fatalf("/account after sign-in: %d", got)
	}
	// A page of the AMS website that loads /logout/ams as an image and in a frame; each
	// promise settles once the browser has had the bridge's answer.
	load := `new Promise(done => {
		let left = 2;
		const settle = () => { if (--left === 0) done(true); };
		const img = document.createElement("img");
		img.onload = img.onerror = settle;
		img.src = "/logout/ams";
		const frame = document.createElement("iframe");
		frame.onload = frame.onerror = settle;
		frame.src = "/logout/ams";
		document.body.append(img, frame);
	})`
	if err := chromedp.Do(ctx, chromedp.Navigate(e.issuer+"/demo-ams/")); err != nil {
		t.Fatalf("open the AMS website: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](load, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("load /logout/ams from an AMS page: %v", err)
	}
	if got := account(); got != http.StatusOK {
		t.Fatalf("an <img> or <iframe> on an AMS page ended the bridge session: /account %d", got)
	}
	// The AMS website's sign-out link: a navigation with its Referer.
	if _, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: e.issuer + "/logout/ams", Referrer: e.issuer + "/demo-ams/"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#signed-out"))); err != nil {
		t.Fatalf("/logout/ams from the AMS website: %v", err)
	}
	if got := account(); got != http.StatusUnauthorized {
		t.Fatalf("/account after the AMS website's sign-out: %d", got)
	}
}
