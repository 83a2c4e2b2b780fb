package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestHandoffOpaqueOrigin (issue 12 item 7): a hand-off POST with Origin: null (an AMS page
// with Referrer-Policy no-referrer) is not refused; the member confirms on a page naming the
// account before any session exists; cancelling signs nobody in.
func TestHandoffOpaqueOrigin(t *testing.T) {
	e := newEnvWith(t, true)
	sim := e.amsSim
	post := func(b interface {
		Do(*http.Request) (*http.Response, error)
	}) *http.Response {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "null")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, decision := range []string{"stay", "switch"} {
		b := e.browser()
		resp := post(b.Client)
		resp.Body.Close()
		page := b.Get(resp.Request.URL.String())
		if page.Status != http.StatusOK || !strings.Contains(page.Body, "Continue as Alice Archer (alice)?") {
			t.Fatalf("no confirmation naming the account: %d %.400s", page.Status, page.Body)
		}
		if b.Get(e.issuer+"/account").Status != http.StatusUnauthorized {
			t.Fatal("a session was created before the member confirmed")
		}
		f := page.Hidden()
		b.Post(e.issuer+"/handoff/confirm", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {decision}})
		signedIn := b.Get(e.issuer+"/account").Status == http.StatusOK
		if signedIn != (decision == "switch") {
			t.Fatalf("decision %s: signed in %v", decision, signedIn)
		}
	}
	// Another site's origin is still refused.
	tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := doJSON(t, req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", resp.StatusCode)
	}
}

// TestHandoffProbe (issue 12 item 7): GET and HEAD of the hand-off URL answer 200.
func TestHandoffProbe(t *testing.T) {
	e := newEnvWith(t, true)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(m, e.issuer+"/handoff/imis", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /handoff/imis: %d", m, resp.StatusCode)
		}
	}
}

// TestCSRFBrowserIDRenewedAtSignIn: a CSRF token handed out before a sign-in is not valid
// after it (login CSRF tokens planted before cannot be replayed into the member's session).
func TestCSRFBrowserIDRenewedAtSignIn(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	login := b.Get(web.AuthCodeURL("s"))
	before := login.Hidden().Get("csrf")
	b.Login(login, "alice", "alice-password").Redirected(t)
	if p := b.Post(e.issuer+"/logout", url.Values{"csrf": {before}}); p.Status != http.StatusForbidden {
		t.Fatalf("the CSRF token from before the sign-in still works: %d", p.Status)
	}
	after := b.Get(e.issuer + "/logout").Hidden().Get("csrf")
	if after == "" || after == before {
		t.Fatalf("csrf after sign-in %q (before %q)", after, before)
	}
	if p := b.Post(e.issuer+"/logout", url.Values{"csrf": {after}}); p.Status >= 400 {
		t.Fatalf("sign-out with the new token: %d", p.Status)
	}
}
