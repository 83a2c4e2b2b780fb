package bridge_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestHeadAndAllowX2 (review s21 X2-1, X2-2; fails on main 0419ffd): RFC 9110 9.1 (GET and
// HEAD MUST be supported by a general-purpose server) and 9.3.2 (HEAD answers as GET without
// content); 15.5.6 (a 405 carries an Allow header listing the methods the resource supports).
func TestHeadAndAllowX2(t *testing.T) {
	e := grantEnv(t)
	do := func(method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.issuer+path, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// X2-1: HEAD of a GET document (SAML metadata) answers as its GET does.
	for _, p := range []string{"/saml/metadata"} {
		if g, h := do(http.MethodGet, p).StatusCode, do(http.MethodHead, p).StatusCode; h != g {
			t.Errorf("HEAD %s: %d, GET %d", p, h, g)
		}
	}
	// X2-2: an unknown method on a POST-only endpoint names POST, as PUT's 405 does, not
	// CONNECT, TRACE, PROPFIND... (echo's Any list, kept by web.Any).
	for _, p := range []string{"/oauth/token", "/revoke", "/oauth/introspect", "/device_authorization"} {
		put, foo := do(http.MethodPut, p), do("FOO", p)
		if foo.StatusCode != http.StatusMethodNotAllowed || foo.Header.Get("Allow") != put.Header.Get("Allow") {
			t.Errorf("FOO %s: %d Allow %q; PUT: Allow %q", p, foo.StatusCode, foo.Header.Get("Allow"), put.Header.Get("Allow"))
		}
	}
	// X2-2: /healthz is a probe: GET and HEAD, not PUT, DELETE or TRACE.
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodTrace} {
		if got := do(m, "/healthz").StatusCode; got != http.StatusMethodNotAllowed {
			t.Errorf("%s /healthz: %d, want 405", m, got)
		}
	}
}
