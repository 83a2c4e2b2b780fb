package sso_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRouteAnswersAsServeHTTP: the handler Route gives each of Paths (what the bridge mounts
// on each path it has matched) answers a request as the provider's ServeHTTP does, and is the
// endpoint's own handler, not the provider with its ServeMux in front, for every path the
// provider routes itself (health and readiness are the provider's).
func TestRouteAnswersAsServeHTTP(t *testing.T) {
	h := newHarness(t)
	for _, path := range sso.Paths() {
		rt := h.p.Route(path)
		if rt == nil {
			t.Fatalf("Route(%s) is nil", path)
		}
		whole := path == "/healthz" || path == "/ready"
		if isProvider := rt == http.Handler(h.p); isProvider != whole {
			t.Errorf("Route(%s) is the provider as a whole: %v, want %v (its ServeMux would match the path again)", path, isProvider, whole)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req := func() *http.Request {
				r := httptest.NewRequest(method, h.issuer+path, strings.NewReader("grant_type=refresh_token&refresh_token=x"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth("web", webSecret)
				return r
			}
			a, b := httptest.NewRecorder(), httptest.NewRecorder()
			h.p.ServeHTTP(a, req())
			rt.ServeHTTP(b, req())
			if a.Code != b.Code || a.Body.String() != b.Body.String() || a.Header().Get("Content-Type") != b.Header().Get("Content-Type") {
				t.Errorf("%s %s: ServeHTTP %d %q, Route %d %q", method, path, a.Code, a.Body, b.Code, b.Body)
			}
		}
	}
}
