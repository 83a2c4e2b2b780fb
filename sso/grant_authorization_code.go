package sso

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// codeGrant is the authorization_code grant (RFC 6749 4.1.3). It validates the request as op's
// ValidateAccessTokenRequest does (the code through the storage, PKCE, the client, the grant
// type, the redirect URI), with the client serveAPI has authenticated instead of op reading
// the credentials again from a rewritten request and looking the client up a second time;
// tokenResponse issues.
type codeGrant struct{ p *Provider }

func (codeGrant) grantType() string { return GrantAuthorizationCode }
func (codeGrant) scopes() scopeRule { return scopesOwn }

func (g codeGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	var tokenReq oidc.AccessTokenRequest
	if err := g.p.forms.Decode(&tokenReq, req.r.Form); err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("error decoding form").WithParent(err)
	}
	if tokenReq.Code == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code missing")
	}
	authReq, client, err := g.validate(ctx, &tokenReq, req.client)
	if err != nil {
		return nil, err
	}
	if cr, ok := authReq.(*codeRequest); ok {
		// The access token is for the request's resources (RFC 8707 2.2), or those of them
		// the token request names; the code stays unused when they are refused.
		if cr.target, err = tokenTarget(req.client, cr.Resources, req.target); err != nil {
			return nil, err
		}
	}
	resp, err := g.p.tokenResponse(ctx, authReq, client, "", "")
	if err != nil {
		return nil, err
	}
	// A code is single-use: its request goes once the tokens exist (as op does).
	if err := g.p.op.Storage().DeleteAuthRequest(ctx, authReq.GetID()); err != nil {
		g.p.responses.putBuffer((*[]byte)(resp))
		return nil, err
	}
	return resp, nil
}

// validate is op.ValidateAccessTokenRequest (op.AuthorizeCodeClient, then the client, grant
// type and redirect URI checks) for the authenticated client cfg, with op's errors in op's
// order. The client assertion branch is not there: authenticate refuses client assertions.
func (g codeGrant) validate(ctx context.Context, tokenReq *oidc.AccessTokenRequest, cfg *ClientConfig) (op.AuthRequest, op.Client, error) {
	// op.AuthRequestByCode, with the caller: a used code revokes its grant only for its own
	// client, with the code_verifier its challenge asks for (storage.codeRequest).
	authReq, err := g.p.storage.codeRequest(ctx, tokenReq.Code, cfg.ID, tokenReq.CodeVerifier)
	if err != nil {
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("invalid code").WithParent(err)
	}
	challenge := authReq.GetCodeChallenge()
	if err := op.AuthorizeCodeChallenge(tokenReq.CodeVerifier, challenge); err != nil {
		return nil, nil, err
	}
	client := g.p.storage.opClient(cfg)
	switch client.AuthMethod() {
	case oidc.AuthMethodPrivateKeyJWT:
		return nil, nil, oidc.ErrInvalidClient().WithDescription("private_key_jwt not allowed for this client")
	case oidc.AuthMethodNone:
		if challenge == nil {
			return nil, nil, oidc.ErrInvalidRequest().WithDescription("PKCE required")
		}
	}
	// client_secret_post is enabled (op.Config.AuthMethodPost) and the secret was verified
	// by authenticate (op's AuthorizeClientIDSecret accepts it for that reason).
	if client.GetID() != authReq.GetClientID() {
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("the code was not issued to this client")
	}
	if cr, ok := authReq.(*codeRequest); ok && issuedBeforeRegistration(cfg, cr.CreatedAt) {
		// A removed app's code, presented by the app registered again under its id.
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("the code was issued to an earlier registration of this client")
	}
	if !cfg.AllowsGrant(GrantAuthorizationCode) { // op.ValidateGrantType, without client.GrantTypes' copy
		return nil, nil, oidc.ErrUnauthorizedClient().WithDescription("client missing grant type " + string(oidc.GrantTypeCode))
	}
	if tokenReq.RedirectURI != authReq.GetRedirectURI() {
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri does not correspond")
	}
	return authReq, client, nil
}
