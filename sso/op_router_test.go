package sso_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestOPRouterNotKept: the router op.NewProvider builds of its endpoints (op.CreateRouter),
// which nothing serves (the provider serves op's server behind its own routes), is not kept
// for the life of the process: op's Provider served directly finds no endpoint, while the
// provider itself answers each of them as before.
func TestOPRouterNotKept(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{sso.PathDiscovery, sso.PathKeys, sso.PathAuthorize, sso.PathToken, "/healthz"} {
		rec := httptest.NewRecorder()
		sso.OPHandler(h.p).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("op's own router answered GET %s: %d, want 404 (no router kept)", path, rec.Code)
		}
	}
	for _, path := range []string{sso.PathDiscovery, sso.PathKeys, "/healthz"} {
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("provider GET %s: %d, want 200", path, rec.Code)
		}
	}
}
