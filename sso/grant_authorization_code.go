package sso

import (
	"context"
	"errors"

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
	if v := tokenReq.CodeVerifier; v != "" && !validCodeVerifier(v) {
		// Refused before the code is read: the code is neither spent nor taken for a replay,
		// and the client may send it again with a well-formed verifier (review s25 X-7).
		return nil, oidc.ErrInvalidRequest().WithDescription("code_verifier must be 43-128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 4.1)")
	}
	authReq, client, err := g.checked(ctx, &tokenReq, req)
	if err != nil {
		return nil, err
	}
	resp, err := g.p.tokenResponse(ctx, authReq, client, "", "")
	if err != nil {
		if _, ok := authReq.(*codeRequest); ok {
			err = codeWriteRefused(err)
		}
		return nil, err
	}
	// A code is single-use: its request goes once the tokens exist (as op does).
	if err := g.p.op.Storage().DeleteAuthRequest(ctx, authReq.GetID()); err != nil {
		g.p.responses.putBuffer((*[]byte)(resp))
		return nil, err
	}
	return resp, nil
}

// checked is validate, then the access token's audience (tokenTarget). When they refuse a
// request the provider took from its codeCache, they run again on the request read from the
// store (the entry is taken: codeRequest reads it), so that every refusal, and what it records
// (a used code's revocation and events), is the store's answer, as without the cache; only a
// request that passes every check goes on with the entry, to the write that binds it.
func (g codeGrant) checked(ctx context.Context, tokenReq *oidc.AccessTokenRequest, req tokenRequest) (op.AuthRequest, op.Client, error) {
	for {
		authReq, client, cached, err := g.validate(ctx, tokenReq, req.client)
		if err == nil {
			if cr, ok := authReq.(*codeRequest); ok {
				// The access token is for the request's resources (RFC 8707 2.2), or those of
				// them the token request names; the code stays unused when they are refused.
				cr.target, err = tokenTarget(req.client, cr.Resources, req.target)
			}
		}
		if err != nil && cached {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return authReq, client, nil
	}
}

// codeWriteRefused is the answer to a code whose write the store refused (exchanged
// elsewhere, its session ended, expired or removed since its request was read or taken from
// the codeCache: see storage.issue, which has recorded it and revoked what it must): the
// answer validate gives when the read finds the same (invalid_grant, "invalid code"), so a
// lost race reads alike whether the code was committed here or read from the store (review
// s25 X-8). Other errors are unchanged.
func codeWriteRefused(err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidGrant {
		return oidc.ErrInvalidGrant().WithDescription("invalid code").WithParent(err)
	}
	return err
}

// validate is op.ValidateAccessTokenRequest (op.AuthorizeCodeClient, then the client, grant
// type and redirect URI checks) for the authenticated client cfg, with op's errors in op's
// order. The client assertion branch is not there: authenticate refuses client assertions.
// cached: the request came from the provider's codeCache (codeRequest.cached).
func (g codeGrant) validate(ctx context.Context, tokenReq *oidc.AccessTokenRequest, cfg *ClientConfig) (_ op.AuthRequest, _ op.Client, cached bool, _ error) {
	authReq, client, err := g.validateRequest(ctx, tokenReq, cfg)
	if cr, ok := authReq.(*codeRequest); ok {
		cached = cr.cached
	}
	if err != nil {
		return nil, nil, cached, err
	}
	return authReq, client, cached, nil
}

// validateRequest is validate's checks; on a refusal after the code's request was found, it
// returns that request with the refusal.
func (g codeGrant) validateRequest(ctx context.Context, tokenReq *oidc.AccessTokenRequest, cfg *ClientConfig) (op.AuthRequest, op.Client, error) {
	// op.AuthRequestByCode, with the caller: a used code revokes its grant only for its own
	// client, with the code_verifier its challenge asks for (storage.codeRequest).
	authReq, err := g.p.storage.codeRequest(ctx, tokenReq.Code, cfg.ID, tokenReq.CodeVerifier)
	if err != nil {
		// A store that could not answer is the server's failure (500, RFC 6749 5.2 has no
		// grant error for it), as the grant's write says where the code was committed
		// (codeCache): the client keeps a code that may still be good (review s24 X2-1).
		if oe := new(oidc.Error); errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
			return nil, nil, err
		}
		return nil, nil, oidc.ErrInvalidGrant().WithDescription("invalid code").WithParent(err)
	}
	challenge := authReq.GetCodeChallenge()
	if err := op.AuthorizeCodeChallenge(tokenReq.CodeVerifier, challenge); err != nil {
		return authReq, nil, err
	}
	client := g.p.storage.opClient(cfg)
	switch client.AuthMethod() {
	case oidc.AuthMethodPrivateKeyJWT:
		return authReq, nil, oidc.ErrInvalidClient().WithDescription("private_key_jwt not allowed for this client")
	case oidc.AuthMethodNone:
		if challenge == nil {
			return authReq, nil, oidc.ErrInvalidRequest().WithDescription("PKCE required")
		}
	}
	// client_secret_post is enabled (op.Config.AuthMethodPost) and the secret was verified
	// by authenticate (op's AuthorizeClientIDSecret accepts it for that reason).
	if client.GetID() != authReq.GetClientID() {
		return authReq, nil, oidc.ErrInvalidGrant().WithDescription("the code was not issued to this client")
	}
	if cr, ok := authReq.(*codeRequest); ok && issuedBeforeRegistration(cfg, cr.CreatedAt) {
		// A removed app's code, presented by the app registered again under its id.
		return authReq, nil, oidc.ErrInvalidGrant().WithDescription("the code was issued to an earlier registration of this client")
	}
	if !cfg.AllowsGrant(GrantAuthorizationCode) { // op.ValidateGrantType, without client.GrantTypes' copy
		return authReq, nil, oidc.ErrUnauthorizedClient().WithDescription("client missing grant type " + string(oidc.GrantTypeCode))
	}
	if tokenReq.RedirectURI != authReq.GetRedirectURI() {
		return authReq, nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri does not correspond")
	}
	return authReq, client, nil
}

// validCodeVerifier reports whether v has RFC 7636 4.1's form: code-verifier = 43*128unreserved,
// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". /authorize checks the challenge's form
// (validS256Challenge); a verifier of another form (a short one, "a") could still match its own
// SHA-256, and would tell its client nothing of the entropy RFC 7636 7.1 asks of it.
//
// A malformed verifier is invalid_request (RFC 6749 5.2: "includes an unsupported parameter
// value ... or is otherwise malformed"), not RFC 7636 4.6's invalid_grant, which answers a
// verifier that does not match the challenge: a value that is not a code_verifier is not
// compared. Malformed, it is refused before the code is looked up.
func validCodeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
