package sso

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// refuseEarly answers, before op, the authorization requests op would answer wrongly. It
// returns false when it has answered.
//
//   - request_uri (OIDC Core 6.2, RFC 9101 5): discovery says request_uri_parameter_supported
//     false, and op's request has no field for it, so op would otherwise go on with the query
//     parameters alone and drop what the referenced request object holds (nonce, max_age,
//     prompt, acr_values) without a word: request_uri_not_supported.
//   - a max_age that is not a non-negative integer (OIDC Core 3.1.2.1): op fails to decode the
//     whole form and shows its error page ("error decoding form"), so the app never learns why
//     the sign-in stopped: invalid_request (RFC 6749 4.1.2.1).
//   - no scope (RFC 6749 3.3: a request without scope is failed "indicating an invalid scope";
//     OIDC Core 3.1.2.6): op answers invalid_request, which an app maps to a malformed request:
//     invalid_scope. A request object (`request`) keeps op's request_not_supported.
//   - more than 100 scopes, or one over 128 characters (scopeBoundsRefusal, README "Security
//     properties"): op drops the scopes the client may not ask for before the request is
//     stored, so the bound is checked on the parameter as sent: invalid_scope.
//   - a response_type other than code (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6): op answers
//     unauthorized_client ("missing in the client configuration"), which points the app at its
//     registration; no registration gets another: unsupported_response_type, in the response
//     mode the type implies (the fragment for token and id_token types).
//   - a resource (RFC 8707 2, repeatable: servePage lets it through) the token endpoint would
//     refuse (targetRefusal: not an absolute URI without a fragment, or no audience of the
//     client): op ignores the parameter, and the member would sign in for tokens the app did
//     not ask for: invalid_target. The accepted ones bind the grant (RFC 8707 2.2): the request
//     is stored with them (authorizeResources, CreateAuthRequest), and the code's and its
//     refreshes' access tokens are for them alone (tokenTarget).
//
// The error goes to the client's redirect_uri, with state (and iss: servePage's issWriter),
// once the client and that redirect_uri are known to be its own (as op checks them before
// answering request objects, `request`, with request_not_supported); otherwise op answers the
// request as it would anyway (the error page for an unknown client or redirect_uri).
func (p *Provider) refuseEarly(w http.ResponseWriter, r *http.Request) bool {
	if r.Form == nil {
		return true
	}
	var e *oidc.Error
	switch maxAge, rt, bounds := r.Form.Get("max_age"), r.Form.Get("response_type"), scopeBoundsRefusal(strings.Fields(r.Form.Get("scope"))); {
	case r.Form.Get("request_uri") != "":
		e = &oidc.Error{ErrorType: "request_uri_not_supported", // OIDC Core 3.1.2.6
			Description: "this provider takes the authorization request's parameters in the request, not by reference (request_uri)"}
	case maxAge != "" && !validMaxAge(maxAge):
		e = &oidc.Error{ErrorType: oidc.InvalidRequest, Description: "max_age must be a non-negative integer (seconds)"}
	case strings.TrimSpace(r.Form.Get("scope")) == "" && r.Form.Get("request") == "":
		e = &oidc.Error{ErrorType: oidc.InvalidScope, Description: "scope is required (openid)"}
	case bounds != "":
		e = &oidc.Error{ErrorType: oidc.InvalidScope, Description: bounds}
	case rt != "" && rt != string(oidc.ResponseTypeCode):
		e = &oidc.Error{ErrorType: "unsupported_response_type", // RFC 6749 4.1.2.1
			Description: "this provider issues only response_type code"}
	case len(nonEmpty(r.Form["resource"])) == 0: // an empty one is omitted (RFC 6749 3.1)
		return true
	}
	redirect := r.Form.Get("redirect_uri")
	cfg, err := p.storage.clientConfig(r.Context(), r.Form.Get("client_id"))
	if err != nil || !loopbackRedirectAllowed(cfg, redirect) || cfg.Unusable() != "" {
		return true // op refuses the client (GetClientByClientID) or the redirect_uri itself
	}
	if e == nil {
		desc := targetRefusal(cfg, url.Values{"resource": r.Form["resource"]})
		if desc == "" {
			return true
		}
		e = &oidc.Error{ErrorType: "invalid_target", Description: desc} // RFC 8707 2
	}
	e.State = r.Form.Get("state")
	mode := oidc.ResponseMode(r.Form.Get("response_mode"))
	if mode == "" && impliesFragment(r.Form.Get("response_type")) {
		// op's AuthResponseURL defaults to the query for token alone (RFC 6749 4.2.2.1 and
		// Multiple Response Type Encoding Practices 2.1: the fragment).
		mode = oidc.ResponseModeFragment
	}
	loc, err := op.AuthResponseURL(redirect, oidc.ResponseType(r.Form.Get("response_type")), mode, e, p.op.Encoder())
	if err != nil {
		return true // op answers a request it cannot answer at its redirect_uri
	}
	http.Redirect(w, r, loc, http.StatusFound) // w is servePage's issWriter: it adds iss (RFC 9207)
	return false
}

// impliesFragment reports whether the response type rt returns a token in the authorization
// response (token, id_token, alone or with others), whose default response mode is the fragment
// (OAuth 2.0 Multiple Response Type Encoding Practices 2.1, 3).
func impliesFragment(rt string) bool {
	for w := range strings.FieldsSeq(rt) {
		if w == "token" || w == "id_token" {
			return true
		}
	}
	return false
}

// validMaxAge reports whether v decodes into op's max_age (an unsigned integer): digits only,
// no sign, within 64 bits.
func validMaxAge(v string) bool {
	_, err := strconv.ParseUint(v, 10, 64)
	return err == nil
}

// validS256Challenge reports whether v can be an S256 code_challenge (RFC 7636 4.2):
// BASE64URL(SHA256(code_verifier)), 32 bytes in 43 characters without padding. A malformed one
// is refused at the authorization request (invalid_request, at the redirect_uri) instead of
// letting the member sign in to an exchange no verifier can complete.
func validS256Challenge(v string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == 32
}

// authorizeResourcesKey is the context key of the resources (RFC 8707) an authorization request
// named, once refuseEarly has accepted them.
type authorizeResourcesKey struct{}

// withAuthorizeResources returns ctx carrying the accepted resources of the authorization
// request it serves, for CreateAuthRequest (op calls it with the request's context and no
// field for them).
func withAuthorizeResources(ctx context.Context, resources []string) context.Context {
	return context.WithValue(ctx, authorizeResourcesKey{}, resources)
}

// authorizeResources are the resources withAuthorizeResources put in ctx (nil: none).
func authorizeResources(ctx context.Context) []string {
	r, _ := ctx.Value(authorizeResourcesKey{}).([]string)
	return r
}
