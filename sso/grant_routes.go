package sso

import (
	"encoding/json"
	"net/http"
)

// serveOwnGrants runs, after serveAPI's request hygiene, client authentication and CORS,
// what the provider does itself rather than op: the device endpoints and the password grant. It returns true when it has answered.
func (p *Provider) serveOwnGrants(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) bool {
	switch r.URL.Path {
	case PathDeviceAuthzEP:
		p.deviceAuthorization(w, r, cfg)
		return true
	case PathToken:
		switch r.PostForm.Get("grant_type") {
		case GrantAuthorizationCode:
			p.exchangeCode(w, r, cfg)
			return true
		case GrantRefreshToken:
			p.exchangeRefresh(w, r, cfg)
			return true
		case GrantDeviceCode:
			p.deviceToken(w, r, cfg)
			return true
		case GrantPassword:
			if pa, ok := p.handlesPassword(r); ok {
				p.passwordGrant(w, r, cfg, pa)
			} else {
				writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "the password grant is not enabled")
			}
			return true
		}
	}
	return false
}

// truthfulDiscovery trims op's discovery document to what works here: op always lists the
// device authorization endpoint, the implicit and JWT bearer grants, implicit response types
// and private_key_jwt client authentication, none of which this provider serves (the device
// endpoint only when the store keeps device codes). It adds the grants the provider runs
// itself, except the legacy password grant.
func (p *Provider) truthfulDiscovery(doc []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return doc
	}
	grants := []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	if p.DeviceEnabled() {
		grants = append(grants, GrantDeviceCode)
		m["device_authorization_endpoint"] = p.cfg.Issuer + PathDeviceAuthzEP
	} else {
		delete(m, "device_authorization_endpoint")
	}
	if ex, ok := p.storage.hooks.(ExternalExchanger); ok && len(ex.ExternalTokenTypes()) > 0 {
		grants = append(grants, GrantTokenExchange)
	}
	// The password grant is not advertised: it is a legacy, per-client opt-in (RFC 9700 2.4).
	m["grant_types_supported"] = grants
	m["response_types_supported"] = []string{"code"}
	// RFC 9207: every authorization response carries iss (provider.go, issWriter).
	m["authorization_response_iss_parameter_supported"] = true
	// Exactly the client authentication methods the authenticator accepts (client_auth.go):
	// public clients identify themselves (none) except at introspection (RFC 7662 2.1).
	m["token_endpoint_auth_methods_supported"] = []string{AuthMethodBasic, AuthMethodPost, AuthMethodNone}
	m["revocation_endpoint_auth_methods_supported"] = []string{AuthMethodBasic, AuthMethodPost, AuthMethodNone}
	m["introspection_endpoint_auth_methods_supported"] = []string{AuthMethodBasic, AuthMethodPost}
	for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		delete(m, k+"_auth_signing_alg_values_supported")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return out
}
