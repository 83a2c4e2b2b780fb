package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestAMSSignOutOnlyByNavigation (review s20 X20-3; Fetch Metadata, W3C "Fetch Metadata Request
// Headers"; README "Single sign-off": a link from the AMS website to /logout/ams ends the bridge
// session): /logout/ams ends the session without asking only for a navigation from the AMS
// website, not for a subresource of one of its pages. The AMS website is usually same-site with
// the bridge (members.example.org, sso.example.org), so the session cookie goes with an <img>
// on any AMS page, one a member's forum post or profile can carry: every member viewing it
// would be signed out of the bridge and all apps. Browsers say what a request is for
// (Sec-Fetch-Mode, Sec-Fetch-Dest); an image fetch is no-cors/image, a link is navigate/document.
// Before: any GET with the AMS website's Referer ended the session.
func TestAMSSignOutOnlyByNavigation(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")
	get := func(mode, dest string) {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/logout/ams", nil)
		req.Header.Set("Referer", e.issuer+"/demo-ams/")
		req.Header.Set("Sec-Fetch-Site", "same-site")
		req.Header.Set("Sec-Fetch-Mode", mode)
		req.Header.Set("Sec-Fetch-Dest", dest)
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("no-cors", "image")
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("an <img> on an AMS page ended the bridge session")
	}
	get("navigate", "document")
	if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
		t.Fatal("the AMS website's sign-out link left the session")
	}
}
