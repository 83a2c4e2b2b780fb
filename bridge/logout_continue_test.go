package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestBrowserFrontChannelLogoutContinues: RP-initiated logout with a front-channel logout URI
// registered renders the apps' frames, then goes on to the validated post_logout_redirect_uri
// by itself (it stopped on "You are signed out" with a Continue link), under the page's CSP
// (no inline script).
func TestBrowserFrontChannelLogoutContinues(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	rp, addClient := newRelyingParty(t)
	var fclHits atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fcl":
			fclHits.Add(1)
			fmt.Fprint(w, "<!doctype html><title>fcl</title>signed out")
		case "/signed-out":
			fmt.Fprintf(w, "<!doctype html><title>bye</title><p id=bye>state=%s</p>", url.QueryEscape(r.URL.Query().Get("state")))
		}
	}))
	t.Cleanup(app.Close)
	e := newEnv(t, addClient, func(c *bridge.Config) {
		cl := &c.Clients[len(c.Clients)-1]
		cl.FrontchannelLogoutURI = app.URL + "/fcl"
		cl.RedirectURIs = append(cl.RedirectURIs, app.URL+"/callback") // the app's origin (Front-Channel Logout 1.0 section 2)
		cl.PostLogoutRedirectURIs = []string{app.URL + "/signed-out"}
	})
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
	endSession := e.issuer + "/end_session?" + url.Values{"client_id": {"browserapp"},
		"post_logout_redirect_uri": {app.URL + "/signed-out"}, "state": {"st-1"}}.Encode()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(endSession),
		chromedp.WaitVisible(css("button[type=submit].primary")),
		chromedp.Click(css("button[type=submit].primary")),
	); err != nil {
		t.Fatalf("confirm sign-out: %v", err)
	}
	// Nobody clicks Continue: the page must go on by itself.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(css("#bye"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("the signed-out page did not continue to the post_logout_redirect_uri (at %s): %v", loc, err)
	}
	if got := text(t, ctx, "#bye"); got != "state=st-1" {
		t.Fatalf("post-logout page: %q", got)
	}
	if fclHits.Load() != 1 {
		t.Fatalf("front-channel logout frame loaded %d times", fclHits.Load())
	}
}

// TestFrontChannelLogoutPageContinues: without a browser, the signed-out page with frames
// carries the continue script (same origin, allowed by script-src 'self'; no inline script)
// and a Refresh header for browsers without scripts, both to the validated redirect.
func TestFrontChannelLogoutPageContinues(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients[0].FrontchannelLogoutURI = "https://portal.example.org/fcl" // "web"
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, "https://portal.example.org/callback")
	})
	b := e.browser()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password")
	page := b.Get(e.issuer + "/end_session?" + url.Values{"client_id": {"web"},
		"post_logout_redirect_uri": {e.rp + "/signed-out"}, "state": {"s2"}}.Encode())
	out := b.Post(e.issuer+"/logout", url.Values{"csrf": {page.Hidden().Get("csrf")}, "t": {page.Hidden().Get("t")}})
	next := e.rp + "/signed-out?state=s2"
	if out.Status != 200 || !strings.Contains(out.Body, `<script src="/static/logout.js"></script>`) {
		t.Fatalf("signed-out page: %d\n%s", out.Status, out.Body)
	}
	if r := out.Header.Get("Refresh"); !strings.HasSuffix(r, "url="+next) {
		t.Fatalf("Refresh header %q, want one to %s", r, next)
	}
	if strings.Contains(out.Body, "<script>") || strings.Contains(out.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatal("inline script on the signed-out page")
	}
	js := b.Get(e.issuer + "/static/logout.js")
	if js.Status != 200 || !strings.Contains(js.Body, "continue") {
		t.Fatalf("logout.js: %d", js.Status)
	}
}
