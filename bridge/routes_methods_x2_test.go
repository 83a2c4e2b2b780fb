package bridge_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestProtocolEndpointMethods (review s21 X2, proof test of 21663aa and e31d8c4): after web.Any
// and op's router let go, every protocol endpoint is reached with the methods its spec allows
// and refuses the others with 405 and an Allow header naming them: the token, introspection,
// revocation and device authorization endpoints POST only (RFC 6749 3.2, RFC 7662 2.1, RFC 7009
// 2.1, RFC 8628 3.1), userinfo GET and POST (OIDC Core 5.3.1), end_session GET and POST (RP-
// Initiated Logout 1.0 section 2), both HEAD too (RFC 9110 9.3.2: session 22), /authorize GET
// and POST (HEAD refused: each GET stores a request), discovery and JWKS GET and HEAD; an
// unknown method (FOO) gets the same answer as PUT (review s21 X2-2); OPTIONS is refused where
// no CORS preflight is answered; the POST-only endpoints and userinfo answer a CORS preflight;
// a path nothing mounts is 404 for every method.
func TestProtocolEndpointMethods(t *testing.T) {
	e := grantEnv(t)
	do := func(method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.issuer+path, strings.NewReader(""))
		if method == http.MethodOptions {
			req.Header.Set("Origin", "https://spa.example.org")
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // the endpoint's answer, not the page it redirects to
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp
	}
	refused := []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodTrace, "FOO"}
	for _, c := range []struct {
		path    string
		allowed []string // answered by the endpoint (any status but 404/405)
		allow   string   // the Allow header of a refused method
	}{
		{"/oauth/token", []string{http.MethodPost, http.MethodOptions}, "POST"},
		{"/oauth/introspect", []string{http.MethodPost, http.MethodOptions}, "POST"},
		{"/revoke", []string{http.MethodPost, http.MethodOptions}, "POST"},
		{"/device_authorization", []string{http.MethodPost, http.MethodOptions}, "POST"},
		{"/userinfo", []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions}, "GET, HEAD, POST"},
		{"/end_session", []string{http.MethodGet, http.MethodHead, http.MethodPost}, "GET, HEAD, POST"},
		{"/authorize", []string{http.MethodGet, http.MethodPost}, "GET, POST"},
		{"/.well-known/openid-configuration", []string{http.MethodGet, http.MethodHead}, "GET, HEAD"},
		{"/keys", []string{http.MethodGet, http.MethodHead}, "GET, HEAD"},
	} {
		for _, m := range c.allowed {
			if got := do(m, c.path).StatusCode; got == http.StatusNotFound || got == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want it answered by the endpoint", m, c.path, got)
			}
		}
		methods := refused
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
			if !slices.Contains(c.allowed, m) {
				methods = append(methods, m)
			}
		}
		for _, m := range methods {
			resp := do(m, c.path)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
				t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", m, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
			}
		}
		if got := do(http.MethodOptions, c.path); slices.Contains(c.allowed, http.MethodOptions) &&
			got.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.org" {
			t.Errorf("preflight of %s from a registered origin: %d %v", c.path, got.StatusCode, got.Header)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions, http.MethodPut, "FOO"} {
		for _, p := range []string{"/nope", "/oauth/tokens", "/oauth", "/keys/x"} {
			if got := do(m, p).StatusCode; got != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", m, p, got)
			}
		}
	}
}
