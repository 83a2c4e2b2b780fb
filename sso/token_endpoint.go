package sso

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The token endpoint (RFC 6749 3.2) is the provider's own, in the style of Dex's grants: the
// shared part below runs once for every grant (serveAPI's request hygiene and client
// authentication before it; then the grant_type lookup, whether the client may use it, the
// scope parameter, and every error answer as RFC 6749 5.2 JSON), and each grant, one file
// grant_*.go, does only its own part. A new grant is one file implementing tokenGrant and one
// line in tokenGrants.

// tokenGrant is one grant_type at the token endpoint.
type tokenGrant interface {
	// grantType is the grant_type value.
	grantType() string
	// scopes says how the shared handler reads the scope parameter for this grant.
	scopes() scopeRule
	// exchange runs the grant for an authenticated client that may use it and returns the
	// token response. Errors are *GrantError, *oidc.Error (op's validation) or a server fault.
	exchange(ctx context.Context, req tokenRequest) (any, error)
}

// switchedGrant is a tokenGrant that can be off at times (token exchange: the hooks' token types
// are known only once the AMS is set up).
type switchedGrant interface {
	enabled() bool
}

// grantEnabled reports whether g runs now.
func grantEnabled(g tokenGrant) bool {
	s, ok := g.(switchedGrant)
	return !ok || s.enabled()
}

// scopeRule is how a grant takes its scopes.
type scopeRule int

const (
	// scopesOwn: the grant has no scope parameter of its own to check here (the code's, the
	// device authorization's) or op checks it (refresh narrowing).
	scopesOwn scopeRule = iota
	// scopesMember: a member's scopes, parsed as authorize does (openid by default), kept to
	// what the client and the provider allow.
	scopesMember
	// scopesClient: a client acting for itself: every requested scope must be one of the
	// client's configured scopes; none requested means all of them.
	scopesClient
)

// tokenRequest is what the shared handler gives a grant.
type tokenRequest struct {
	r      *http.Request // normalised by authenticate (op reads it); ctx is the grant's context
	form   url.Values
	client *ClientConfig
	scopes []string // by the grant's scopeRule (nil for scopesOwn)
	// target is what the request's resource (RFC 8707) and audience (RFC 8693) parameters
	// name, each once, every one among the client's audiences (requestedTarget); nil when it
	// names none. The grant narrows its access token's audience to it (tokenTarget).
	target []string
	// refresh is where a refresh grant's request goes (refreshCall); nil: an allocation of its
	// own.
	refresh *refreshRequest
}

// refreshCall is a refresh grant's token context and refresh request in one allocation (with
// the request's op.Client and rotation in it: refreshRequest) instead of one each.
type refreshCall struct {
	ctx tokenCtx
	req refreshRequest
}

// grantKind is one grant the token endpoint knows: its grant_type and how a provider builds it.
type grantKind struct {
	grantType string
	// build returns the grant, or nil when this provider cannot run it (no DeviceStore; hooks
	// without the capability the grant needs).
	build func(p *Provider, hooks Hooks) tokenGrant
}

// grantKinds are the grants the token endpoint knows, one line each, in the order discovery
// lists them. Adding a grant is its file (a tokenGrant) and one line here: client validation
// (KnownGrant) and discovery follow from this list.
func grantKinds() []grantKind {
	return []grantKind{
		{GrantAuthorizationCode, func(p *Provider, _ Hooks) tokenGrant { return codeGrant{p} }},
		{GrantRefreshToken, func(p *Provider, _ Hooks) tokenGrant { return refreshGrant{p} }},
		{GrantClientCredentials, func(p *Provider, _ Hooks) tokenGrant { return clientCredentialsGrant{p} }},
		{GrantDeviceCode, func(p *Provider, _ Hooks) tokenGrant {
			if p.devices == nil {
				return nil
			}
			return deviceCodeGrant{p}
		}},
		{GrantTokenExchange, func(p *Provider, h Hooks) tokenGrant {
			if ex, ok := h.(ExternalExchanger); ok {
				return tokenExchangeGrant{p, ex}
			}
			return nil
		}},
		{GrantPassword, func(p *Provider, h Hooks) tokenGrant {
			if pa, ok := h.(PasswordAuthenticator); ok {
				return passwordGrant{p, pa}
			}
			return nil
		}},
	}
}

// KnownGrant reports whether grantType is one of the token endpoint's grants.
func KnownGrant(grantType string) bool {
	return slices.ContainsFunc(grantKinds(), func(k grantKind) bool { return k.grantType == grantType })
}

// GrantTypes are the grant_type values of the token endpoint's grants, in discovery order.
func GrantTypes() []string {
	var out []string
	for _, k := range grantKinds() {
		out = append(out, k.grantType)
	}
	return out
}

// tokenGrants builds the grants this provider runs (grantKinds that it can run).
func (p *Provider) tokenGrants(hooks Hooks) []tokenGrant {
	var grants []tokenGrant
	for _, k := range grantKinds() {
		if g := k.build(p, hooks); g != nil {
			grants = append(grants, g)
		}
	}
	return grants
}

// serveToken is the token endpoint after serveAPI's hygiene and client authentication.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) {
	// The client's CORS policy first, so that a browser app reads every refusal below (RFC
	// 6749 5.2 JSON) from its registered origin, not only the grants' own (review s21 X21-3).
	if !p.cors(w, r, cfg) {
		return
	}
	gt := r.PostForm.Get("grant_type")
	if gt == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type missing")
		return
	}
	var (
		ctx     context.Context
		refresh *refreshRequest
	)
	if gt == GrantRefreshToken {
		rc := new(refreshCall)
		p.setTokenContext(&rc.ctx, r.Context(), cfg)
		ctx, refresh = &rc.ctx, &rc.req
	} else {
		ctx = p.tokenContext(r.Context(), cfg)
	}
	i := slices.IndexFunc(p.grants, func(g tokenGrant) bool { return g.grantType() == gt && grantEnabled(g) })
	switch {
	case !cfg.AllowsGrant(gt) && !KnownGrant(gt):
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type")
		return
	case !cfg.AllowsGrant(gt):
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "this client may not use this grant type")
		return
	case i < 0:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "the "+gt+" grant is not enabled")
		return
	}
	g := p.grants[i]
	req := tokenRequest{r: r, form: r.PostForm, client: cfg, refresh: refresh}
	var err error
	switch g.scopes() {
	case scopesMember:
		req.scopes, err = p.grantScopes(cfg, r.PostForm.Get("scope"))
	case scopesClient:
		req.scopes, err = clientScopes(cfg, r.PostForm.Get("scope"))
	}
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return
	}
	if req.target, err = requestedTarget(cfg, r.PostForm); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_target", err.Error())
		return
	}
	resp, err := g.exchange(ctx, req)
	if err != nil {
		p.writeGrantError(ctx, w, cfg, gt, err)
		return
	}
	p.responses.write(w, resp)
	if o := p.cfg.Observer; o != nil {
		o.TokenIssued(ctx, gt, cfg.ID)
	}
}

// grantScopes parses and filters the scope parameter as authorize does (openid by default):
// the provider's supported scopes and the client's own, once each, within the same bounds
// (storage.requestScopes), then what the client may ask for (op's ValidateAuthReqScopes).
func (p *Provider) grantScopes(cfg *ClientConfig, raw string) ([]string, error) {
	scopes := strings.Fields(raw)
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID}
	}
	scopes, err := p.storage.requestScopes(cfg, scopes)
	if err != nil || len(scopes) == 0 {
		return scopes, err
	}
	return op.ValidateAuthReqScopes(p.storage.opClient(cfg), scopes)
}

// clientScopes grants the requested scopes when every one is among the client's configured
// scopes (all of them when none is requested).
func clientScopes(cfg *ClientConfig, raw string) ([]string, error) {
	scopes := strings.Fields(raw)
	if len(scopes) == 0 {
		return slices.Clone(cfg.Scopes), nil
	}
	for _, sc := range scopes {
		if !slices.Contains(cfg.Scopes, sc) {
			return nil, errors.New("scope not allowed for this client")
		}
	}
	return scopes, nil
}

// writeGrantError answers a grant's failure as RFC 6749 5.2 JSON: a *GrantError as it says, an
// op error with its type (invalid_client is 401 with a challenge), anything else as a logged
// server error.
func (p *Provider) writeGrantError(ctx context.Context, w http.ResponseWriter, cfg *ClientConfig, grant string, err error) {
	if errors.Is(err, ErrUnavailable) {
		// Whatever the grant made of it (even invalid_grant): the client must keep its
		// refresh token or code and try again, not start over.
		p.log(ctx).WarnContext(ctx, grant+" grant: the store is unavailable", "client", cfg.ID, "err", err)
		writeUnavailable(w)
		return
	}
	if errors.Is(err, ErrTemporarilyUnavailable) {
		// The hooks could not reach the AMS (the claims of the ID token, a member check that
		// did not go through memberAllowed): 503 with Retry-After as amsUnreachable answers,
		// whatever the grant made of it, never a 500 or a verdict on the grant.
		var ge *GrantError
		if !errors.As(err, &ge) || ge.Status != http.StatusServiceUnavailable {
			ge = amsUnreachable(err)
		}
		p.log(ctx).WarnContext(ctx, grant+" grant: the membership system is unavailable", "client", cfg.ID, "err", err)
		ge.write(w)
		return
	}
	var ge *GrantError
	if errors.As(err, &ge) {
		if ge.Status >= 500 {
			p.log(ctx).ErrorContext(ctx, grant+" grant failed", "client", cfg.ID, "err", err)
		}
		ge.write(w)
		return
	}
	p.writeOpError(ctx, w, err)
}

// memberGrant is what a grant without a browser (password, token exchange, device code) asks
// the provider to issue for a member, once the shared checks in issueMember pass.
type memberGrant struct {
	info grantInfo
	// deniedCode answers a member who may no longer use the client (invalid_grant,
	// access_denied).
	deniedCode string
	// consent: a third-party client needs the member's recorded consent for consentScopes
	// (info.scopes when nil): no consent page was shown.
	consent       bool
	consentScopes []string
	// signInEvent, when set, has the sign-in the grant was made from checked against today's
	// policy (storage.checkSignIn) once the member is allowed, a refusal audited as this event.
	signInEvent string
	// issuedTokenType is the response's issued_token_type (token exchange; "": none).
	issuedTokenType string
}

// issueMember re-checks that the member may use the client, and the member's consent where
// the grant needs it, then issues the tokens.
func (p *Provider) issueMember(ctx context.Context, cfg *ClientConfig, grant string, m memberGrant) (*tokenBody, error) {
	if err := p.memberAllowed(ctx, cfg, m.info.subject, m.deniedCode); err != nil {
		return nil, err
	}
	if m.signInEvent != "" {
		if err := p.storage.checkSignIn(ctx, m.info.subject, cfg.ID, m.info.authTime, m.info.amr, m.signInEvent); err != nil {
			return nil, err
		}
	}
	if m.consent {
		scopes := m.consentScopes
		if scopes == nil {
			scopes = m.info.scopes
		}
		if err := p.consentGiven(ctx, cfg, m.info.subject, scopes, grant); err != nil {
			return nil, err
		}
	}
	return p.tokenResponse(ctx, newIssuedGrant(cfg, m.info), p.storage.opClient(cfg), "", m.issuedTokenType)
}

// targetRefusal checks the resource (RFC 8707) and audience (RFC 8693 section 2.1) parameters
// of a request (requestedTarget; /authorize's resource: refuseEarly) and returns why they are
// refused, "" when they may go on.
func targetRefusal(cfg *ClientConfig, form url.Values) string {
	if _, err := requestedTarget(cfg, form); err != nil {
		return err.Error()
	}
	return ""
}

// requestedTarget checks the resource (RFC 8707) and audience (RFC 8693 section 2.1) parameters
// of a token request and returns the values they name, each once, resources first (nil: none).
// Every value must be one of the audiences this client's access tokens may carry (its
// configured audiences, or its own id): the bridge issues tokens for those and no others, so a
// request for another target is refused with invalid_target (RFC 8707 section 2, RFC 8693
// section 2.2.2) rather than answered with a token the client did not ask for. A resource must
// also be an absolute URI without a fragment (RFC 8707 section 2). The access token's audience
// is then narrowed to the values (tokenTarget). The error's text is the refusal's description.
func requestedTarget(cfg *ClientConfig, form url.Values) ([]string, error) {
	resources, audiences := nonEmpty(form["resource"]), nonEmpty(form["audience"])
	if len(resources) == 0 && len(audiences) == 0 {
		return nil, nil
	}
	for _, res := range resources {
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || strings.Contains(res, "#") {
			return nil, errors.New("resource must be an absolute URI without a fragment")
		}
		if !clientAudience(cfg, res) {
			return nil, errors.New("this client's tokens are not issued for the requested resource")
		}
	}
	for _, aud := range audiences {
		if !clientAudience(cfg, aud) {
			return nil, errors.New("this client's tokens are not issued for the requested audience")
		}
	}
	switch {
	case len(audiences) == 0:
		return uniqueValues(resources), nil
	case len(resources) == 0:
		return uniqueValues(audiences), nil
	}
	return uniqueValues(append(slices.Clip(resources), audiences...)), nil
}

// nonEmpty is vs without its empty values: a parameter sent without a value is treated as
// omitted (RFC 6749 3.1), as clients send resource= or audience= when the setting is left
// blank (review s25 X-3). vs itself when none is empty (nothing allocated); nil when all are.
func nonEmpty(vs []string) []string {
	if !slices.Contains(vs, "") {
		return vs
	}
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// clientAudience reports whether v is one of the audiences cfg's access tokens may carry: its
// configured audiences, or its own id when it has none (accessTokenAudience).
func clientAudience(cfg *ClientConfig, v string) bool {
	if len(cfg.Audiences) > 0 {
		return slices.Contains(cfg.Audiences, v)
	}
	return v == cfg.ID
}

// uniqueValues returns vs with each value once, in order: vs itself when no value repeats.
func uniqueValues(vs []string) []string {
	for i := 1; i < len(vs); i++ {
		if slices.Contains(vs[:i], vs[i]) {
			out := slices.Clone(vs[:i])
			for _, v := range vs[i+1:] {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
			return out
		}
	}
	return vs
}

// tokenTarget is the audience of an access token (RFC 8707 section 2, RFC 9700 section 2.3)
// issued from a grant bound to granted (the resources its authorization request named: nil
// for the client's whole set) for a token request naming requested (tokenRequest.target, each
// one of the client's audiences): requested when it names any, each of which must then be
// within the grant (a code or refresh token may ask for any of its grant's resources, or a
// subset: RFC 8707 section 2.2), else the grant's resources that are still among the client's
// audiences (an administrator may have taken one away since). nil means the client's whole
// set (accessTokenAudience). A grant none of whose resources the client keeps, or a request
// outside the grant, is refused invalid_target.
func tokenTarget(cfg *ClientConfig, granted, requested []string) ([]string, error) {
	if len(granted) == 0 {
		return requested, nil
	}
	kept, gone := granted, func(v string) bool { return !clientAudience(cfg, v) }
	if slices.ContainsFunc(granted, gone) {
		kept = slices.DeleteFunc(slices.Clone(granted), gone)
	}
	if len(kept) == 0 {
		return nil, &GrantError{Code: "invalid_target", Description: "the resources this grant was given are no longer among this client's audiences"}
	}
	for _, v := range requested {
		if !slices.Contains(kept, v) {
			return nil, &GrantError{Code: "invalid_target", Description: "the requested resource or audience is not among those this grant was given"}
		}
	}
	if len(requested) > 0 {
		return requested, nil
	}
	return kept, nil
}
