package bridge_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestConsentPageNamesTheMemberWithoutAskingAgain (brief H2 item 4, s18): the consent page of
// a browser's session names its member by the label read on the way to it (the completion's
// member read), and shown again (reloads) asks the AMS nothing; a session the page has no label
// for (the consent page opened by its URL after the account choice) is read once. The consent is still decided by its POST, which
// reads the member. Before, every view of the page looked the member up by key (the "reloads"
// count fails so: 1 per view).
func TestConsentPageNamesTheMemberWithoutAskingAgain(t *testing.T) {
	dir := bridgetest.NewCounting(bridgetest.NewDirectory())
	e := newEnvDir(t, false, dir)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)

	b := e.browser()
	e.signIn(b, web.AuthCodeURL("w", oidc.Nonce("n")), "alice", "alice-password")
	before := dir.ByKey()
	page := b.Get(third.AuthCodeURL("t", oidc.Nonce("n")))
	if page.URL.Path != "/consent" || !strings.Contains(page.Body, "Alice Archer (alice)") {
		t.Fatalf("the consent page: %d %s %.300s", page.Status, page.URL, page.Body)
	}
	onTheWay := dir.ByKey() - before
	if onTheWay != 1 { // the completion's read labels the session; the page reads nobody again
		t.Fatalf("on the way to the consent page: %d member lookups, want 1", onTheWay)
	}
	before = dir.ByKey()
	for range 3 {
		again := b.Get(page.URL.String())
		if again.URL.Path != "/consent" || !strings.Contains(again.Body, "Alice Archer (alice)") {
			t.Fatalf("the consent page again: %d %s %.300s", again.Status, again.URL, again.Body)
		}
	}
	if n := dir.ByKey() - before; n != 0 {
		t.Fatalf("reloads: %d member lookups for 3 views, want 0 (%d on the way to the first view)", n, onTheWay)
	}

	// The POST reads the member and decides, as before.
	f := page.Hidden()
	before = dir.ByKey()
	q := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"allow"}}).Redirected(t)
	if q.Get("code") == "" || dir.ByKey() == before {
		t.Fatalf("the consent's POST: %v, %d lookups", q, dir.ByKey()-before)
	}

	// A session the page has no label for (the account choice shown, then the consent page
	// opened by its URL): read once, then not again.
	b2 := e.browser()
	e.signIn(b2, web.AuthCodeURL("w2", oidc.Nonce("n")), "bob", "bob-password")
	choice := b2.Get(third.AuthCodeURL("t2", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "select_account")))
	id := choice.Hidden().Get("id")
	if id == "" {
		t.Fatalf("no account choice: %d %s %.300s", choice.Status, choice.URL, choice.Body)
	}
	before = dir.ByKey()
	for i := range 2 {
		v := b2.Get(e.issuer + "/consent?id=" + url.QueryEscape(id))
		if !strings.Contains(v.Body, "Bob Staff (bob)") || dir.ByKey()-before != 1 {
			t.Fatalf("bob's consent page, view %d: %d lookups in all, want 1 %.300s", i+1, dir.ByKey()-before, v.Body)
		}
	}
}

// TestConsentPageLabelIsTheSessionsMember (final read s18 R3-6): the consent page's label is
// the member of the session it shows: alice's page seen (her label kept), then bob signing in
// in the same browser (prompt=login) gets a consent page naming Bob, never Alice.
func TestConsentPageLabelIsTheSessionsMember(t *testing.T) {
	e := newEnvDir(t, false, bridgetest.NewCounting(bridgetest.NewDirectory()))
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("w", oidc.Nonce("n")), "alice", "alice-password")
	if page := b.Get(third.AuthCodeURL("t", oidc.Nonce("n"))); !strings.Contains(page.Body, "Alice Archer (alice)") {
		t.Fatalf("alice's consent page: %d %s %.300s", page.Status, page.URL, page.Body)
	}
	login := b.Get(third.AuthCodeURL("t2", oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "login")))
	page := b.Login(login, "bob", "bob-password")
	for i := 0; i < 5 && page.Location != ""; i++ {
		page = b.Get(page.Location)
	}
	if page.URL.Path != "/consent" || !strings.Contains(page.Body, "Bob Staff (bob)") || strings.Contains(page.Body, "Alice") {
		t.Fatalf("bob's consent page in alice's browser: %d %s %.500s", page.Status, page.URL, page.Body)
	}
	if again := b.Get(page.URL.String()); !strings.Contains(again.Body, "Bob Staff (bob)") || strings.Contains(again.Body, "Alice") {
		t.Fatalf("bob's consent page reloaded: %.500s", again.Body)
	}
}
