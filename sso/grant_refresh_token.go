package sso

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// refreshGrant is the refresh_token grant (RFC 6749 6). op validates the request (the token
// through the storage, which rotates it with reuse detection, and any narrowing of scope);
// tokenResponse issues.
type refreshGrant struct{ p *Provider }

func (refreshGrant) grantType() string { return GrantRefreshToken }
func (refreshGrant) scopes() scopeRule { return scopesOwn }

func (g refreshGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	tokenReq, err := op.ParseRefreshTokenRequest(req.r, g.p.op.Decoder())
	if err != nil {
		return nil, err
	}
	validated, client, err := op.ValidateRefreshTokenRequest(ctx, tokenReq, g.p.op)
	if err != nil {
		return nil, err
	}
	return g.p.tokenResponse(ctx, validated, client, tokenReq.RefreshToken)
}
