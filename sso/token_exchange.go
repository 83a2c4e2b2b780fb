package sso

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ErrUnsupportedTokenType is returned by an ExternalExchanger for a subject_token_type it does
// not handle.
var ErrUnsupportedTokenType = errors.New("sso: unsupported subject_token_type")

// ExternalExchanger is an optional Hooks capability: RFC 8693 token exchange of a token issued
// by someone else (the AMS) for our tokens. op only knows its own token types, so the provider
// handles these requests itself and issues through tokenResponse.
type ExternalExchanger interface {
	// ExternalTokenTypes lists the subject_token_type values handled.
	ExternalTokenTypes() []string
	// ExchangeExternal redeems the subject token and returns the subject it stands for.
	// Errors wrapping ErrAccessDenied become invalid_grant.
	ExchangeExternal(ctx context.Context, clientID, subjectToken, tokenType string) (subject string, amr []string, err error)
}

// handlesExternal reports whether the token request is an external token exchange.
func (p *Provider) handlesExternal(r *http.Request) (ExternalExchanger, bool) {
	if r.PostForm.Get("grant_type") != GrantTokenExchange {
		return nil, false
	}
	ex, ok := p.storage.hooks.(ExternalExchanger)
	if !ok || len(ex.ExternalTokenTypes()) == 0 {
		return nil, false
	}
	// Every exchange is ours (op has no token-exchange storage); unknown types are refused there.
	return ex, true
}

const tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"

func (p *Provider) exchangeExternal(w http.ResponseWriter, r *http.Request, cfg *ClientConfig, ex ExternalExchanger) {
	ctx := op.ContextWithIssuer(r.Context(), p.cfg.Issuer)
	subjectToken := r.PostForm.Get("subject_token")
	if !slices.Contains(ex.ExternalTokenTypes(), r.PostForm.Get("subject_token_type")) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "unsupported subject_token_type")
		return
	}
	if subjectToken == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "subject_token is required")
		return
	}
	if r.PostForm.Get("actor_token") != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "actor_token is not supported for this subject_token_type")
		return
	}
	if rt := r.PostForm.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess && rt != string(oidc.RefreshTokenType) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "requested_token_type must be access_token or refresh_token")
		return
	}
	opc := p.storage.opClient(cfg)
	scopes, err := p.grantScopes(cfg, r.PostForm.Get("scope"))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return
	}
	// Checked before the subject token is redeemed (redeeming spends it).
	if az, ok := ex.(ExternalExchangeAuthorizer); ok && !az.MayExchangeExternal(cfg.ID, r.PostForm.Get("subject_token_type")) {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "this client may not exchange this subject_token_type")
		return
	}
	sub, amr, err := ex.ExchangeExternal(ctx, cfg.ID, subjectToken, r.PostForm.Get("subject_token_type"))
	switch {
	case err == nil:
	case errors.Is(err, ErrUnsupportedTokenType):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "unsupported subject_token_type")
		return
	case errors.Is(err, ErrAccessDenied):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the subject_token was refused")
		return
	default:
		w.Header().Set("Retry-After", "30")
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the membership system could not be reached")
		return
	}
	if !p.memberAllowed(ctx, w, cfg, sub, "invalid_grant", "token exchange") {
		return
	}
	if !p.consentGiven(ctx, w, cfg, sub, scopes, "token_exchange") {
		return
	}
	// A refresh token only with offline_access, for a client allowed to refresh, and not when
	// the client asked for an access token alone.
	g := grantInfo{clientID: cfg.ID, subject: sub, scopes: scopes, amr: amr, authTime: p.storage.now()}
	if r.PostForm.Get("requested_token_type") == tokenTypeAccess {
		g.scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == oidc.ScopeOfflineAccess })
	}
	req := newIssuedGrant(cfg, g).(op.IDTokenRequest)
	resp, err := p.tokenResponse(p.tokenContext(ctx, cfg), req, opc, "")
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "could not issue tokens")
		return
	}
	out := struct {
		*oidc.AccessTokenResponse
		IssuedTokenType string `json:"issued_token_type"`
	}{resp, tokenTypeAccess}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
