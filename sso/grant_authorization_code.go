package sso

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// codeGrant is the authorization_code grant (RFC 6749 4.1.3). op validates the request (the
// code through the storage, PKCE, the redirect URI); tokenResponse issues.
type codeGrant struct{ p *Provider }

func (codeGrant) grantType() string { return GrantAuthorizationCode }
func (codeGrant) scopes() scopeRule { return scopesOwn }

func (g codeGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	tokenReq, err := op.ParseAccessTokenRequest(req.r, g.p.forms)
	if err != nil {
		return nil, err
	}
	if tokenReq.Code == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code missing")
	}
	authReq, client, err := op.ValidateAccessTokenRequest(ctx, tokenReq, g.p.op)
	if err != nil {
		return nil, err
	}
	resp, err := g.p.tokenResponse(ctx, authReq, client, "")
	if err != nil {
		return nil, err
	}
	// A code is single-use: its request goes once the tokens exist (as op does).
	if err := g.p.op.Storage().DeleteAuthRequest(ctx, authReq.GetID()); err != nil {
		return nil, err
	}
	return resp, nil
}
