package sso

import (
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
