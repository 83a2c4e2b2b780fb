package bridge

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// TestProtocolContextsCoverMount: every route protocolRoutes.Mount adds has its context
// function in protocolContexts, so the frame's one copy of the request carries the client IP
// and the member memo and serve makes no second copy (serve still copies for a route left out:
// this test is what notices one).
func TestProtocolContextsCoverMount(t *testing.T) {
	e := echo.New()
	pass := func(h echo.HandlerFunc) echo.HandlerFunc { return h }
	protocolRoutes{limit: nil, callback: pass, authorize: pass}.Mount(e)
	ctxs := protocolContexts()
	mounted := 0
	for _, r := range e.Routes() {
		mounted++
		if ctxs[r.Path] == nil {
			t.Errorf("route %s %s has no context function in protocolContexts", r.Method, r.Path)
		}
	}
	if mounted == 0 {
		t.Fatal("Mount added no routes")
	}
	for path := range ctxs {
		if path == sso.PathDiscovery || path == sso.PathKeys {
			t.Errorf("protocolContexts lists the document %s", path)
		}
	}
}

// routeRecorder is a provider that records the paths Mount asks its Route for.
type routeRecorder struct {
	http.Handler
	asked map[string]bool
}

func (r *routeRecorder) Route(path string) http.Handler {
	r.asked[path] = true
	return r
}

// TestMountUsesProviderRoutes: every path Mount adds is served by the provider's own handler
// of that path (sso.Provider.Route), not by the provider as a whole, whose ServeMux would match
// the path echo has matched already.
func TestMountUsesProviderRoutes(t *testing.T) {
	e := echo.New()
	pass := func(h echo.HandlerFunc) echo.HandlerFunc { return h }
	rec := &routeRecorder{asked: map[string]bool{}}
	protocolRoutes{provider: rec, limit: nil, callback: pass, authorize: pass}.Mount(e)
	for _, r := range e.Routes() {
		if !rec.asked[r.Path] {
			t.Errorf("route %s %s is not served by the provider's Route(%q)", r.Method, r.Path, r.Path)
		}
	}
}
