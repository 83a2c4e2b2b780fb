package sso

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ErrUnsupportedTokenType is returned by an ExternalExchanger for a subject_token_type it does
// not handle.
var ErrUnsupportedTokenType = errors.New("sso: unsupported subject_token_type")

// ExternalExchanger is an optional Hooks capability: RFC 8693 token exchange of a token issued
// by someone else (the AMS) for our tokens. op only knows its own token types, so the provider
// runs the grant itself (tokenExchangeGrant) and issues through tokenResponse.
type ExternalExchanger interface {
	// ExternalTokenTypes lists the subject_token_type values handled.
	ExternalTokenTypes() []string
	// ExchangeExternal redeems the subject token and returns the subject it stands for.
	// Errors wrapping ErrAccessDenied become invalid_grant.
	ExchangeExternal(ctx context.Context, clientID, subjectToken, tokenType string) (subject string, amr []string, err error)
}

const tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"

// tokenExchangeGrant is RFC 8693 token exchange of external tokens, registered when the hooks
// are an ExternalExchanger, enabled while it has at least one token type.
type tokenExchangeGrant struct {
	p  *Provider
	ex ExternalExchanger
}

func (tokenExchangeGrant) grantType() string { return GrantTokenExchange }
func (tokenExchangeGrant) scopes() scopeRule { return scopesMember }
func (g tokenExchangeGrant) enabled() bool   { return len(g.ex.ExternalTokenTypes()) > 0 }

func (g tokenExchangeGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	cfg, form := req.client, req.form
	tokenType, subjectToken := form.Get("subject_token_type"), form.Get("subject_token")
	if !slices.Contains(g.ex.ExternalTokenTypes(), tokenType) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unsupported subject_token_type")
	}
	if subjectToken == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("subject_token is required")
	}
	if form.Get("actor_token") != "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("actor_token is not supported for this subject_token_type")
	}
	// RFC 8693 2.2.1 carries the requested token in access_token and names it in
	// issued_token_type: only an access token is issued there, so a request for another type
	// (refresh_token, id_token) is refused (2.2.2 invalid_request) rather than answered with an
	// access token; a refresh token comes alongside with offline_access. Review s19 X19-6.
	if rt := form.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess {
		return nil, oidc.ErrInvalidRequest().WithDescription("requested_token_type: only access_token is issued; ask offline_access for a refresh token alongside")
	}
	// Checked before the subject token is redeemed (redeeming spends it).
	if az, ok := g.ex.(ExternalExchangeAuthorizer); ok && !az.MayExchangeExternal(cfg.ID, tokenType) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not exchange this subject_token_type")
	}
	// The consent check (a third-party client gets tokens only for scopes the member allowed
	// it) needs the member, and the member is known only by redeeming the subject token: an
	// AMS refresh token tells whom it was issued to only at the AMS's token endpoint, whose
	// refresh grant rotates it (RFC 6749 section 6: the client "MUST discard the old refresh
	// token"; RFC 9700 section 4.14.2), and the AMS offers no introspection (RFC 7662) that
	// would name the member without spending it. So a request the member's consent refuses
	// has spent its token, and what can be refused without the member is refused first: the
	// client's right to the token type (above) and, for a third-party client, hooks that
	// record no consent at all. Giving the rotated AMS token back instead would hand the
	// bridge's own AMS credential to the client. TestTokenExchangeOrder.
	if _, has := g.p.storage.hooks.(ConsentChecker); !has && !cfg.Trusted {
		return nil, g.p.consentGiven(ctx, cfg, "", req.scopes, "token_exchange")
	}
	sub, amr, err := g.ex.ExchangeExternal(ctx, cfg.ID, subjectToken, tokenType)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnsupportedTokenType):
		return nil, oidc.ErrInvalidRequest().WithDescription("unsupported subject_token_type")
	case errors.Is(err, ErrAccessDenied):
		return nil, oidc.ErrInvalidGrant().WithDescription("the subject_token was refused")
	default:
		return nil, &GrantError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the membership system could not be reached", RetryAfter: amsRetryAfter, Err: err}
	}
	// A refresh token only with offline_access, for a client allowed to refresh, and not when
	// the client asked for an access token alone.
	info := grantInfo{clientID: cfg.ID, subject: sub, scopes: req.scopes, amr: amr, authTime: g.p.storage.now()}
	targetOf(&info, req)
	if form.Get("requested_token_type") == tokenTypeAccess {
		info.scopes = slices.DeleteFunc(slices.Clone(req.scopes), func(s string) bool { return s == oidc.ScopeOfflineAccess })
	}
	return g.p.issueMember(ctx, cfg, "token_exchange", memberGrant{info: info, deniedCode: "invalid_grant", consent: true,
		consentScopes: req.scopes, issuedTokenType: tokenTypeAccess})
}
