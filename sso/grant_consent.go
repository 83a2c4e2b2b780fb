package sso

import (
	"context"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Grants without a browser (the password grant, token exchange) never show the consent page,
// so they give a third-party (not trusted) client tokens only for scopes the member has
// already consented to through the browser.

// ConsentChecker is an optional Hooks capability: whether the member's recorded consent for the
// client covers scopes (a consent given to an earlier registration of the client's id does not:
// ClientConfig.PredatesRegistration). Without it, third-party clients get no tokens from these
// grants.
type ConsentChecker interface {
	HasConsent(ctx context.Context, subject string, client *ClientConfig, scopes []string) (bool, error)
}

// ExternalExchangeAuthorizer is an optional ExternalExchanger capability: which clients may
// exchange a subject_token_type. Without it, any client with the token-exchange grant may.
type ExternalExchangeAuthorizer interface {
	MayExchangeExternal(clientID, tokenType string) bool
}

// consentGiven answers invalid_scope (RFC 6749 5.2: the scope exceeds what the resource owner
// granted) when a third-party client has no consent for scopes.
func (p *Provider) consentGiven(ctx context.Context, cfg *ClientConfig, subject string, scopes []string, grant string) error {
	if cfg.Trusted {
		return nil
	}
	ok := false
	if cc, has := p.storage.hooks.(ConsentChecker); has {
		var err error
		if ok, err = cc.HasConsent(ctx, subject, cfg, scopes); err != nil {
			return &GrantError{Status: http.StatusInternalServerError, Code: "server_error",
				Description: "could not check the member's consent", Err: err}
		}
	}
	if !ok {
		p.storage.hooks.Event(ctx, "token.consent_required", subject, cfg.ID, "grant="+grant+": no recorded consent for the requested scopes")
		return oidc.ErrInvalidScope().WithDescription("the member has not allowed this app these scopes; sign in through the browser once to give consent")
	}
	return nil
}
