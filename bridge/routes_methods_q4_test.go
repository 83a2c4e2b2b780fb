package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestEveryRouteNamesItsMethods (session 22's leftover: /healthz, /readyz and the pages
// answered echo's 405 with OPTIONS in Allow, though OPTIONS is not served there, and echo
// answered their OPTIONS 204 itself): every path the public router has a route for, found by
// walking its routes (not a list kept by hand: a new route cannot escape), is asked with each
// of echo's methods and an unknown one; every 405 has an Allow header naming exactly the
// methods the path answers, OPTIONS left out (a CORS preflight is answered by the protocol
// endpoints that take one, and named by none). Every path that answers GET answers HEAD too,
// but those headRefused lists (session 24).
func TestEveryRouteNamesItsMethods(t *testing.T) {
	lms := newSAMLSP(t)
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	h := e.bridge.Handler()
	methods := []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, echo.PROPFIND, http.MethodPut, http.MethodTrace, echo.REPORT, "FOO"}
	seen := map[string]bool{}
	for _, r := range e.bridge.Routes() {
		if seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		// A request for the route: its parameters filled in.
		var path []string
		for seg := range strings.SplitSeq(r.Path, "/") {
			if strings.HasPrefix(seg, ":") || seg == "*" {
				seg = "x"
			}
			path = append(path, seg)
		}
		target := strings.Join(path, "/")
		var served []string
		refused := map[string]string{} // method -> Allow
		for _, m := range methods {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(m, target, nil)
			if m == http.MethodOptions {
				req.Header.Set("Origin", "https://spa.example.org")
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			}
			h.ServeHTTP(rec, req)
			if rec.Code == http.StatusMethodNotAllowed {
				refused[m] = rec.Header().Get("Allow")
				continue
			}
			served = append(served, m)
		}
		want := slices.DeleteFunc(slices.Clone(served), func(m string) bool { return m == http.MethodOptions })
		slices.Sort(want)
		for m, allow := range refused {
			got := strings.Split(allow, ", ")
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s (route %s): 405 Allow %q, want the methods it answers: %q", m, target, r.Path, allow,
					strings.Join(want, ", "))
			}
		}
		if len(served) == 0 {
			t.Errorf("%s (route %s): no method answered", target, r.Path)
		}
		// RFC 9110 9.3.2 (session 24): what answers GET answers HEAD, but the routes whose GET
		// writes what a HEAD must not (headRefused, TestHeadAnswersAsGet).
		get, head := slices.Contains(served, http.MethodGet), slices.Contains(served, http.MethodHead)
		switch refusedOnPurpose := slices.Contains(headRefused, r.Path); {
		case get && !head && !refusedOnPurpose:
			t.Errorf("%s (route %s): answers GET, refuses HEAD; route HEAD (without the GET's writes) or list it in headRefused with why",
				target, r.Path)
		case head && refusedOnPurpose:
			t.Errorf("%s (route %s): answers HEAD, yet headRefused lists it", target, r.Path)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/login", "/account", "/logout", "/consent", "/device", "/authorize", "/oauth/token", "/saml/slo"} {
		if !seen[p] {
			t.Errorf("the walk did not reach %s (routes: %d)", p, len(seen))
		}
	}
}
