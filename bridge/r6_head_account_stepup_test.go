package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestR6HeadAccountStepUpNoRedirectToNowhere (review s27 R6-2; the twin of review s26 R2-7,
// which session 27 Q mended for the step page only): the account page of a session that lacks
// the factor its member enrolled since sends its GET 303 to a second-factor challenge the GET
// stores. Its HEAD answered that 303 without Location: RFC 9110 9.3.2 lets a HEAD leave out
// only the fields the content determines, and a HEAD-following client (curl -IL, a link
// checker, a monitor) is left with a redirect to nowhere. As for a continuation's step, no
// Location exists without the GET's write, so the HEAD is refused: 405 with Allow (RFC 9110
// 15.5.6), no Location, nothing stored, no cookie; the GET after it still opens the step-up.
func TestR6HeadAccountStepUpNoRedirectToNowhere(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInParams)
	old, other := e.browser(), e.browser()
	e.signIn(old, cfg.AuthCodeURL("s"), "alice", "alice-password")
	e.signIn(other, cfg.AuthCodeURL("s"), "alice", "alice-password")
	enrolTOTP(t, e, other) // old's session now lacks the factor alice uses
	ask := func(method string) *http.Response {
		req, _ := http.NewRequest(method, e.issuer+"/account", nil)
		c := &http.Client{Jar: old.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	before := e.store.WriteStats().Writes
	head := ask(http.MethodHead)
	if n := e.store.WriteStats().Writes - before; n != 0 {
		t.Errorf("HEAD /account: %d store writes, want none", n)
	}
	if head.StatusCode >= 300 && head.StatusCode < 400 && head.Header.Get("Location") == "" {
		t.Errorf("HEAD /account: %d without Location, a redirect to nowhere (RFC 9110 9.3.2, 15.4)", head.StatusCode)
	}
	if head.StatusCode != http.StatusMethodNotAllowed || head.Header.Get("Allow") != "GET, POST" || len(head.Header.Values("Set-Cookie")) > 0 {
		t.Errorf("HEAD /account: %d, Allow %q, Set-Cookie %q; want 405 with Allow: GET, POST and no cookie", head.StatusCode,
			head.Header.Get("Allow"), head.Header.Values("Set-Cookie"))
	}
	if get := ask(http.MethodGet); get.StatusCode != http.StatusSeeOther || e.store.WriteStats().Writes == before {
		t.Fatalf("GET /account after the HEAD: %d, Location %q; want the 303 to the step-up it stores", get.StatusCode, get.Header.Get("Location"))
	}
}
