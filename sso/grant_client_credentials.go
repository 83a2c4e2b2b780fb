package sso

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client credentials grant (RFC 6749 section 4.4): a service acting for itself. The access
// token has no member subject (its JWT form carries the client id as sub, RFC 9068 section
// 2.2) and no refresh token; the scopes are the client's own (scopesClient).

// clientCredentialsGrant is the client_credentials grant.
type clientCredentialsGrant struct{ p *Provider }

func (clientCredentialsGrant) grantType() string { return GrantClientCredentials }
func (clientCredentialsGrant) scopes() scopeRule { return scopesClient }

func (g clientCredentialsGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	cfg := req.client
	if cfg.Public {
		return nil, oidc.ErrInvalidClient().WithDescription("a public client cannot use client_credentials")
	}
	// The token is for the audiences the request names (RFC 8707 2, RFC 8693 2.1), else for
	// the client's whole set.
	aud := req.target
	if len(aud) == 0 {
		aud = accessTokenAudience(cfg, []string{cfg.ID})
	}
	tr := &clientCredentialsRequest{clientID: cfg.ID, scopes: req.scopes, audience: aud}
	return op.CreateClientCredentialsTokenResponse(ctx, tr, g.p.op, g.p.storage.opClient(cfg))
}

// clientCredentialsRequest is a validated client_credentials grant.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
	audience []string
}

// GetSubject is the client: op uses it for the opaque token's "<id>:<subject>" and the JWT.
func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return r.audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }
func (r *clientCredentialsRequest) GetClientID() string   { return r.clientID }

// grant implements granter: the stored record has no subject.
func (r *clientCredentialsRequest) grant() grantInfo {
	return grantInfo{clientID: r.clientID, audience: r.audience, target: r.audience, scopes: r.scopes}
}

// granter is a token request of a grant op does not know, describing what it issues.
type granter interface{ grant() grantInfo }
