package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Grants the provider runs itself (device code, password), issuing through op's token
// creation so that tokens, ID tokens and storage are the same as for op's own grants.

// GrantError is an expected failure decided by a hook (wrong password, locked out, throttled,
// AMS down): the provider answers it as RFC 6749 section 5.2 error JSON.
type GrantError struct {
	Status      int    // HTTP status; 400 when 0
	Code        string // invalid_grant, temporarily_unavailable...
	Description string // shown to the client: no secrets, no hint whether a login exists
	RetryAfter  time.Duration
	Err         error // the cause, for errors.Is and logs
}

func (e *GrantError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *GrantError) Unwrap() error { return e.Err }

func (e *GrantError) write(w http.ResponseWriter) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds())+1))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeOAuthError(w, status, e.Code, e.Description)
}

// issuedGrant is a token request of a grant the provider runs itself. It is an
// op.IDTokenRequest; issuedGrantRefresh also asks op for a refresh token.
type issuedGrant struct{ info grantInfo }

func (r *issuedGrant) GetAMR() []string       { return r.info.amr }
func (r *issuedGrant) GetAudience() []string  { return []string{r.info.clientID} }
func (r *issuedGrant) GetAuthTime() time.Time { return r.info.authTime }
func (r *issuedGrant) GetClientID() string    { return r.info.clientID }
func (r *issuedGrant) GetScopes() []string    { return r.info.scopes }
func (r *issuedGrant) GetSubject() string     { return r.info.subject }
func (r *issuedGrant) sessionID() string      { return r.info.sessionID }
func (r *issuedGrant) grant() grantInfo {
	g := r.info
	g.audience = r.GetAudience()
	return g
}

// issuedGrantRefresh is an op.RefreshTokenRequest, so op's needsRefreshToken says yes.
type issuedGrantRefresh struct{ issuedGrant }

func (r *issuedGrantRefresh) SetCurrentScopes(s []string) { r.info.scopes = s }

// newIssuedGrant returns the request for g, with a refresh token when offline_access was
// granted and the client may refresh.
func newIssuedGrant(cfg *ClientConfig, g grantInfo) op.TokenRequest {
	if slices.Contains(g.scopes, oidc.ScopeOfflineAccess) && cfg.AllowsGrant(GrantRefreshToken) {
		return &issuedGrantRefresh{issuedGrant{info: g}}
	}
	return &issuedGrant{info: g}
}

// grantScopes parses and filters the scope parameter as authorize does (openid by default).
// memberAllowed re-checks, for grants without a browser, that the member may use the client
// (status rules and the client's access rule); on refusal it answers deniedCode (invalid_grant,
// access_denied) and returns false. An unreachable AMS answers temporarily_unavailable.
func (p *Provider) memberAllowed(ctx context.Context, w http.ResponseWriter, cfg *ClientConfig, subject, deniedCode, grant string) bool {
	err := p.storage.hooks.CheckGrant(ctx, subject, cfg.ID)
	if err == nil {
		return true
	}
	if errors.Is(err, ErrAccessDenied) {
		writeOAuthError(w, http.StatusBadRequest, deniedCode, "the member may not use this app")
		return false
	}
	p.log(ctx).ErrorContext(ctx, grant+" grant check failed", "client", cfg.ID, "err", err)
	w.Header().Set("Retry-After", "30")
	writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the membership system could not be reached")
	return false
}

func (p *Provider) grantScopes(cfg *ClientConfig, raw string) ([]string, error) {
	scopes := strings.Fields(raw)
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID}
	}
	return op.ValidateAuthReqScopes(p.storage.opClient(cfg), scopes)
}

// issueGrant creates the token response for a grant the provider ran itself.
func (p *Provider) issueGrant(ctx context.Context, w http.ResponseWriter, cfg *ClientConfig, req op.TokenRequest) {
	ctx = p.tokenContext(ctx, cfg)
	resp, err := p.tokenResponse(ctx, req, p.storage.opClient(cfg), "")
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType != oidc.ServerError {
			writeOAuthError(w, http.StatusBadRequest, string(oe.ErrorType), oe.Description)
			return
		}
		p.log(ctx).ErrorContext(ctx, "token issue failed", "client", cfg.ID, "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "could not issue tokens")
		return
	}
	writeTokenResponse(w, resp)
}

func (p *Provider) log(context.Context) *slog.Logger {
	if p.cfg.Logger != nil {
		return p.cfg.Logger
	}
	return slog.Default()
}
