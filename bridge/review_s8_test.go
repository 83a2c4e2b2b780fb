package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSignInWithUndecodableCookie (review s8 Y1): a browser whose cookie does not decode (from
// another installation of the bridge on this host name, tampered with, sealed with other keys)
// signs in at its first try. The authorization page bound the request to a nonce that the
// cookie it saved then lost (the cookie session was cleared again at each later read of the
// request), so the sign-in post was refused as "started in another browser" (403).
func TestSignInWithUndecodableCookie(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	u, err := url.Parse(e.issuer + "/")
	if err != nil {
		t.Fatal(err)
	}
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "ssobridge", Value: "c2VhbGVkLWJ5LWFub3RoZXItYnJpZGdl", Path: "/"}})
	p := b.Get(web.AuthCodeURL("s0"))
	if !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("expected the login form: %d at %s", p.Status, p.URL)
	}
	p = b.Login(p, "alice", "alice-password")
	if q := p.Redirected(t); q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
}

// TestSAMLChainSkipTwice (review s8 Y2): the link that goes on without an SP's answer
// (/saml/slo/next?skip=N) followed twice with the same chain cookie (a double click, the
// waiting page's own timed refresh racing the click, or the SP's answer arriving meanwhile)
// leaves the step once; the second finds it left (the store's compare-and-set) and goes on to
// the chain's next step. It indexed the step before the first (Steps[Pos-1] with Pos 0): a
// panic, answered 500 and logged with its stack.
func TestSAMLChainSkipTwice(t *testing.T) {
	e, lms, jobs, _, _ := chainEnv(t)
	issuer := mustURL(t, e.issuer)
	c := samlClient()
	signInAtSP(t, e, c, lms)
	signInAtSP(t, e, c, jobs)
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + "/logout") })
	f := formFields(body)
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
	if chainRedirect.FindStringSubmatch(body) == nil {
		t.Fatalf("no step for lms: %.1200s", body)
	}
	var atStep0 *http.Cookie
	for _, ck := range c.Jar.Cookies(&issuer) {
		if ck.Name == "ssobridge-slo" {
			atStep0 = ck
		}
	}
	if atStep0 == nil {
		t.Fatal("no chain cookie")
	}
	noFollow := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 2 {
		c.Jar.SetCookies(&issuer, []*http.Cookie{atStep0})
		resp, err := noFollow.Get(e.issuer + saml.PathSLONext + "?skip=0")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != saml.PathSLONext {
			t.Fatalf("skip %d of step 0: %d %q, want 303 to %s", i+1, resp.StatusCode, resp.Header.Get("Location"), saml.PathSLONext)
		}
	}
	// The chain goes on to jobs, also from the earlier cookie.
	_, body = fetch(t, func() (*http.Response, error) { return c.Get(e.issuer + saml.PathSLONext) })
	if m := chainForm.FindStringSubmatch(body); m == nil || !strings.Contains(body, "Job Board") {
		t.Fatalf("no step for jobs after lms was skipped: %.1200s", body)
	}
}
