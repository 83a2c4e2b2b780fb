package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignInFormsCheckCSRFFirst: the login and consent forms check the CSRF token before they
// load the sign-in request: a post without the right token gets the form page's refusal and
// neither binds nor judges the request (no "started in another browser" row), and the browser
// that owns the request can still finish it.
func TestSignInFormsCheckCSRFFirst(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	for _, path := range []string{"/login", "/consent"} {
		t.Run(path, func(t *testing.T) {
			owner := e.browser()
			f := owner.Get(web.AuthCodeURL("s")).Hidden()
			id := f.Get("id")
			if id == "" {
				t.Fatal("no login form")
			}
			elsewhere := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'authorize.request_elsewhere'")
			for name, b := range map[string]*url.Values{
				"another browser, no token": {"id": {id}, "decision": {"allow"}, "login": {"alice"}, "password": {"x"}},
				"owner, wrong token":        {"id": {id}, "csrf": {"forged"}, "decision": {"allow"}, "login": {"alice"}, "password": {"x"}},
			} {
				by := owner
				if strings.HasPrefix(name, "another") {
					by = e.browser()
				}
				p := by.Post(e.issuer+path, *b)
				if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "not sent from this site") {
					t.Fatalf("%s: %d, want the CSRF refusal page", name, p.Status)
				}
			}
			if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'authorize.request_elsewhere'"); n != elsewhere {
				t.Fatalf("a refused form judged the request (%d request_elsewhere rows)", n-elsewhere)
			}
			if q := owner.Login(owner.Get(e.issuer+"/login?id="+url.QueryEscape(id)), "alice", "alice-password").Redirected(t); q.Get("code") == "" {
				t.Fatalf("the owner could not finish: %v", q)
			}
		})
	}
}
