package sso

import (
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// checkRequestURI refuses, before op, an authorization request that passes its parameters by
// reference (request_uri: OIDC Core 6.2, RFC 9101 5): discovery says
// request_uri_parameter_supported false, and op's request has no field for it, so op would
// otherwise go on with the query parameters alone and drop what the referenced request object
// holds (nonce, max_age, prompt, acr_values) without a word. The error goes to the client's
// redirect_uri, with state (and iss: servePage's issWriter), once the client and that redirect_uri are known to be its
// own (as op checks them before answering request objects, `request`, with
// request_not_supported); otherwise op answers the request as it would anyway (the error page
// for an unknown client or redirect_uri). It returns false when it has answered.
func (p *Provider) checkRequestURI(w http.ResponseWriter, r *http.Request) bool {
	if r.Form == nil || r.Form.Get("request_uri") == "" {
		return true
	}
	redirect := r.Form.Get("redirect_uri")
	cfg, err := p.storage.clientConfig(r.Context(), r.Form.Get("client_id"))
	if err != nil || !loopbackRedirectAllowed(cfg, redirect) {
		return true // op refuses the client or the redirect_uri itself
	}
	e := &oidc.Error{ErrorType: "request_uri_not_supported", State: r.Form.Get("state"), // OIDC Core 3.1.2.6
		Description: "this provider takes the authorization request's parameters in the request, not by reference (request_uri)"}
	loc, err := op.AuthResponseURL(redirect, oidc.ResponseType(r.Form.Get("response_type")),
		oidc.ResponseMode(r.Form.Get("response_mode")), e, p.op.Encoder())
	if err != nil {
		return true // op answers a request it cannot answer at its redirect_uri
	}
	http.Redirect(w, r, loc, http.StatusFound) // w is servePage's issWriter: it adds iss (RFC 9207)
	return false
}
