package sso

import (
	"context"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestTokenContext: the token endpoint's context answers op's issuer and the client's ID token
// algorithm as op.ContextWithIssuer and withSigningAlg over the request's context do, hands on
// the request context's values and cancellation, and costs one allocation.
func TestTokenContext(t *testing.T) {
	type outer struct{}
	const issuer = "https://sso.example.org"
	p := &Provider{issuerCtx: op.ContextWithIssuer(context.Background(), issuer)}
	for _, alg := range []string{"", "RS256", "ES256", "EdDSA", "PS512"} {
		parent, cancel := context.WithCancel(context.WithValue(op.ContextWithIssuer(context.Background(), "https://other.example"), outer{}, "kept"))
		cfg := &ClientConfig{IDTokenSigningAlg: alg}
		ctx := p.tokenContext(parent, cfg)
		want := withSigningAlg(op.ContextWithIssuer(parent, issuer), alg)
		if got, w := op.IssuerFromContext(ctx), op.IssuerFromContext(want); got != w || got != issuer {
			t.Errorf("%q: issuer %q, want %q", alg, got, w)
		}
		if got, w := ctx.Value(algKey{}), want.Value(algKey{}); got != w {
			t.Errorf("%q: algorithm %v, want %v", alg, got, w)
		}
		if got := ctx.Value(outer{}); got != "kept" {
			t.Errorf("%q: the request context's value %v", alg, got)
		}
		cancel()
		select {
		case <-ctx.Done():
		default:
			t.Errorf("%q: not cancelled with the request", alg)
		}
	}
	cfg := &ClientConfig{IDTokenSigningAlg: "RS256"}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = p.tokenContext(ctx, cfg) }); n > 1 {
		t.Errorf("tokenContext allocates %.0f objects, want 1", n)
	}
}
