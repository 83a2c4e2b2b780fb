package sso

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// refreshGrant is the refresh_token grant (RFC 6749 6). The client is authenticated and allowed
// the grant before exchange runs (serveAPI, serveToken), so exchange does what op's
// ValidateRefreshTokenRequest does after its own client checks, in its order: the token through
// the storage (which rotates it with reuse detection and re-checks the member), the token's
// client against the authenticated one, any narrowing of scope (6: a subset of the granted
// scopes); tokenResponse issues. op's form decoding and second client lookup are left out.
type refreshGrant struct{ p *Provider }

func (refreshGrant) grantType() string { return GrantRefreshToken }
func (refreshGrant) scopes() scopeRule { return scopesOwn }

func (g refreshGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	token := req.form.Get("refresh_token")
	if token == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("refresh_token missing")
	}
	// op.RefreshTokenRequestByRefreshToken without its tracing span, and without op's wrapping
	// of every storage error in invalid_grant: the storage's refusals are invalid_grant with
	// their reason, and a fault of the server (the store failing to read the family or to
	// revoke it, the AMS unreachable while the member is checked) stays server_error or
	// temporarily_unavailable, so that the client keeps its refresh token (RFC 6749 5.2:
	// invalid_grant says the grant is gone; review s25 X-1).
	request, err := g.p.storage.refreshRequestByToken(ctx, token, req.client.ID, req.refresh)
	if err != nil {
		return nil, err
	}
	if request.GetClientID() != req.client.ID { // refused there already; kept as the last word
		return nil, errRefreshOtherClient()
	}
	if issuedBeforeRegistration(req.client, request.rt.CreatedAt) {
		// A removed app's family (one its removal's revocation did not reach: inserted by a
		// replica that still had the client), presented by the app registered again under its
		// id: another app, as the code and device grants and access tokens say (review s25 X-4).
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to an earlier registration of this client")
	}
	// The access token is for the grant's resources, or those of them the request names (RFC
	// 8707 2.2); a request outside them is refused before the token rotates.
	if request.target, err = tokenTarget(req.client, request.rt.Resources(), req.target); err != nil {
		return nil, err
	}
	// Scopes an administrator has since taken from the client are not issued again (RFC 6749
	// 6 lets the server narrow): the family keeps its own, for when the client gets them back.
	if kept, narrowed := scopesClientMayAsk(req.client, request.GetScopes()); narrowed {
		request.SetCurrentScopes(kept)
	}
	if raw := req.form.Get("scope"); raw != "" {
		// As op decodes the parameter (oidc.SpaceDelimitedArray): split on single spaces.
		if err := op.ValidateRefreshTokenScopes(strings.Split(raw, " "), request); err != nil {
			// op's error has no description (RFC 6749 6: the scope may only narrow).
			var oe *oidc.Error
			if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidScope && oe.Description == "" {
				return nil, oidc.ErrInvalidScope().WithDescription("the scope asked for is not within the scope granted to the refresh token")
			}
			return nil, err
		}
	}
	// The op.Client goes in the request's own allocation.
	return g.p.tokenResponse(ctx, request, g.p.storage.setOpClient(&request.client, req.client), token, "")
}

// scopesClientMayAsk keeps the scopes an authorize request of cfg would keep today (op's
// ValidateAuthReqScopes): openid and the standard OIDC scopes (profile, email, phone, address,
// offline_access) always, any other scope only while the client's configured scopes allow it
// (all when it has none). narrowed reports whether any was dropped; kept is scopes itself
// when none was (nothing allocated).
func scopesClientMayAsk(cfg *ClientConfig, scopes []string) (kept []string, narrowed bool) {
	if len(cfg.Scopes) == 0 {
		return scopes, false
	}
	allowed := func(sc string) bool {
		switch sc {
		case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress, oidc.ScopeOfflineAccess:
			return true
		}
		return slices.Contains(cfg.Scopes, sc)
	}
	for i, sc := range scopes {
		if !allowed(sc) {
			kept = append(make([]string, 0, len(scopes)-1), scopes[:i]...)
			for _, rest := range scopes[i+1:] {
				if allowed(rest) {
					kept = append(kept, rest)
				}
			}
			return kept, true
		}
	}
	return scopes, false
}
