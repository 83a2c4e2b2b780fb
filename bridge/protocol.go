package bridge

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/sso"
)

// protocolRoutes mounts the OpenID provider's endpoints (op behind sso.Provider).
type protocolRoutes struct {
	// provider serves the protocol paths; when it is a router (sso.Provider's Route), each
	// path is mounted on its own handler, matched once (by echo) instead of twice.
	provider http.Handler
	// limit counts the endpoints that store something for an anonymous caller.
	limit *web.AnonymousLimit
	// callback guards op's authorize callback (authflow.Handler.Callback).
	callback func(echo.HandlerFunc) echo.HandlerFunc
	// authorize answers the requests op accepts at the authorization endpoint with the sign-in
	// page (authflow.Handler.Authorize).
	authorize func(echo.HandlerFunc) echo.HandlerFunc
}

// Mount adds every protocol path but the public documents (discovery, JWKS: documents, the
// router's RouterConfig.Documents), each with the methods its specification gives it
// (web.Methods; OPTIONS where the endpoint answers CORS preflights): every other method, echo's
// or any other, is refused by the provider's handler of the path, unwrapped (not counted by
// the anonymous limit, not run as an authorization request), which answers 405 with an Allow
// header naming exactly those methods (review s21 X2-2: an unknown method got echo's Allow
// naming eleven), as RFC 6749 JSON with its CORS headers for the API endpoints.
//
// HEAD (RFC 9110 9.3.2: GET without the body) is routed where answering a GET twice changes
// nothing: userinfo (reads the member's claims) and end_session (op checks the request and
// redirects to the sign-out page with a sealed ticket; nobody is signed out before the member
// confirms there or the page's own GET runs). /authorize refuses it on purpose: each GET
// stores an authorization request for an anonymous caller (and counts against its limit),
// which a HEAD, whose answer nobody follows, would leave behind for nothing.
func (p protocolRoutes) Mount(e *echo.Echo) {
	const get, head, post, options = http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions
	for _, path := range sso.Paths() {
		proto := p.serve(path)
		switch path {
		case sso.PathAuthCallback:
			web.Methods(e, path, p.callback(proto), nil, get)
		case sso.PathAuthorize:
			// Each authorize request stores an auth request for an anonymous caller.
			web.Methods(e, path, p.limit.Wrap("authorize", false, p.authorize(proto)), proto, get, post)
		case sso.PathDeviceAuthzEP:
			web.Methods(e, path, p.limit.Wrap("device_authorization", true, proto), proto, post, options)
		case sso.PathToken, sso.PathIntrospect, sso.PathRevoke:
			web.Methods(e, path, proto, proto, post, options)
		case sso.PathUserinfo:
			web.Methods(e, path, proto, proto, get, head, post, options)
		case sso.PathEndSession:
			web.Methods(e, path, proto, proto, get, head, post)
		case sso.PathDiscovery, sso.PathKeys:
			// Mounted by the router (documents).
		case "/healthz":
			// healthRoutes serves it (GET and HEAD), as /readyz.
		case "/ready":
			// op's readiness: a document, GET and HEAD only (review s21 X2-2: any method was 200).
			web.Methods(e, path, proto, nil, get, head)
		default:
			panic("bridge: no methods for the protocol path " + path)
		}
	}
}

// router is what sso.Provider offers a router that has matched a path itself.
type router interface {
	Route(path string) http.Handler
}

// serve runs the provider's handler of path. The request's context carries the client IP
// (hooks.ClientIP: sso does not know the bridge's idea of it, trusted proxies) and the request's
// member memo, put there by the router's frame (protocolContexts) in its copy of the request; a
// route the frame was not told about gets its own copy here, so no protocol request runs
// without them.
func (p protocolRoutes) serve(path string) echo.HandlerFunc {
	h := p.provider
	if rt, ok := h.(router); ok {
		h = rt.Route(path)
	}
	return func(c echo.Context) error {
		r := c.Request()
		if !hooks.IsProtocolRequest(r.Context()) {
			r = r.WithContext(hooks.WithProtocolRequest(r.Context(), c.RealIP()))
		}
		h.ServeHTTP(c.Response(), r)
		return nil
	}
}

// protocolContexts are the router's context functions (web.RouterConfig.RouteContexts) of
// every path Mount adds: the client IP and the member memo (hooks.WithProtocolRequest) go
// into the frame's one copy of the request instead of a second copy made here.
func protocolContexts() map[string]web.ContextFunc {
	add := func(c echo.Context, ctx context.Context) context.Context {
		return hooks.WithProtocolRequest(ctx, c.RealIP())
	}
	m := map[string]web.ContextFunc{}
	for _, path := range sso.Paths() {
		if path != sso.PathDiscovery && path != sso.PathKeys {
			m[path] = add
		}
	}
	return m
}
