package sso

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// opServer is op's server (its Server API over the legacy Provider, the pattern of op's
// server_legacy.go and example/server/exampleop), extended by embedding: single methods are
// overridden, the rest is op's. routes puts the provider's own endpoints and request checks in
// front of it.
type opServer struct {
	*op.LegacyServer
	p *Provider
}

// newOPServer wraps op's provider in its server and returns the server's handler.
func newOPServer(p *Provider, o *op.Provider) http.Handler {
	s := &opServer{LegacyServer: op.NewLegacyServer(o, o.Endpoints()), p: p}
	// No CORS here: the provider's policy is per client (cors in provider.go).
	return op.RegisterLegacyServer(s, op.AuthorizeCallbackHandler(o), op.WithServerCORSOptions(nil),
		op.WithDecoder(p.forms))
}

// Discovery answers the provider's typed document (discovery.go), rendered once. The routes
// serve it before op (public_docs.go); op's own route to it gives the same bytes.
func (s *opServer) Discovery(ctx context.Context, _ *op.Request[struct{}]) (*op.Response, error) {
	return publicJSON(s.p.docs.discoveryDoc(ctx).src, discoveryCacheControl), nil
}

// Keys answers the key manager's JWKS (every published key of every algorithm), rendered when
// the keys change; like Discovery, the routes serve it before op.
func (s *opServer) Keys(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return publicJSON(s.p.docs.jwksDoc().src, jwksCacheControl), nil
}

// publicJSON is a cacheable public document any origin may read.
func publicJSON(doc []byte, cacheControl string) *op.Response {
	return &op.Response{
		Header: http.Header{"Access-Control-Allow-Origin": {"*"}, "Cache-Control": {cacheControl}},
		Data:   json.RawMessage(doc),
	}
}
