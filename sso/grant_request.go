package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// What the grants the provider runs without op's validation (device code, password, token
// exchange) share: their error type and their token request, issued through op's token
// creation so that tokens, ID tokens and storage are the same as for the code and refresh grants.

// GrantError is an expected failure at the token endpoint or another API endpoint: decided by
// a hook (wrong password, locked out, throttled, AMS down), by client authentication or by a
// grant. The provider answers it as RFC 6749 section 5.2 error JSON.
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

// write answers e as RFC 6749 5.2 JSON; a 401 invalid_client carries the challenge for the
// scheme the client may use.
func (e *GrantError) write(w http.ResponseWriter) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="ssobridge"`)
	}
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
	if len(g.audience) == 0 {
		g.audience = r.GetAudience()
	}
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

// amsRetryAfter is the Retry-After of temporarily_unavailable: "30".
const amsRetryAfter = 29 * time.Second

// memberAllowed re-checks, for grants without a browser, that the member may use the client
// (status rules and the client's access rule); a refusal is deniedCode (invalid_grant,
// access_denied), an access rule that could not be evaluated server_error (ruleFault), an
// unreachable AMS temporarily_unavailable.
func (p *Provider) memberAllowed(ctx context.Context, cfg *ClientConfig, subject, deniedCode string) error {
	err := p.storage.hooks.CheckGrant(ctx, subject, cfg.ID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrAccessDenied):
		return &GrantError{Code: deniedCode, Description: "the member may not use this app", Err: err}
	case errors.Is(err, ErrAccessRuleFault):
		return p.storage.ruleFault(ctx, subject, cfg.ID, err)
	}
	return amsUnreachable(err)
}

// ruleFault audits and answers a member check (Hooks.CheckGrant) that failed because the
// client's access rule could not be evaluated (ErrAccessRuleFault, review s26 R2-4): an
// access.rule_error audit row (the hooks' error names the rule, never the member's values),
// and 500 server_error without a Retry-After, never invalid_grant: the grant stays valid (the
// refresh token's family is kept, the device code too) and works again once the operator mends
// the rule. Not temporarily_unavailable: the membership system answered, and a client told to
// retry in 30 seconds would retry a fault only the operator can mend.
func (s *storage) ruleFault(ctx context.Context, subject, clientID string, err error) *GrantError {
	s.hooks.Event(ctx, "access.rule_error", subject, clientID, err.Error())
	return &GrantError{Status: http.StatusInternalServerError, Code: "server_error",
		Description: "the app's access rule could not be evaluated", Err: err}
}

// amsUnreachable answers a member check (Hooks.CheckGrant, SignInChecker) that failed without
// deciding (the AMS unreachable, its answer unreadable): 503 temporarily_unavailable with a
// Retry-After, never invalid_grant, so that the client keeps its code, device code or refresh
// token and tries again (RFC 6749 5.2's invalid_grant would tell it the grant is gone).
func amsUnreachable(err error) *GrantError {
	return &GrantError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "the membership system could not be reached", RetryAfter: amsRetryAfter, Err: err}
}

func (p *Provider) log(context.Context) *slog.Logger {
	if p.cfg.Logger != nil {
		return p.cfg.Logger
	}
	return slog.Default()
}

// targetOf sets what info's grant is for from the token request that starts it (password,
// token exchange, device code: no authorization request names resources for them): the
// request's resources bind the grant (its family's Audience, RFC 8707 2.2: its refreshes may
// ask for them or a subset), and its access token is for every value the request names,
// resources and audiences (RFC 8693 2.1: an audience narrows this token only).
func targetOf(info *grantInfo, req tokenRequest) {
	info.target = req.target
	if res := nonEmpty(req.form["resource"]); len(res) > 0 {
		info.audience = uniqueValues(res)
	}
}
