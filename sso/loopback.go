package sso

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// RFC 8252 7.3: a native app's loopback redirect may differ from the registered one in its
// port only. op ignores the scheme and host too (any loopback URI with the registered path
// would match), so the provider checks before op sees the request.

// loopbackRedirectAllowed reports whether uri is registered for the client, exactly or as a
// registered loopback redirect on another port (same scheme, same host as registered, no user
// info, same path and query).
func loopbackRedirectAllowed(cfg *ClientConfig, uri string) bool {
	return loopbackURIAllowed(cfg.RedirectURIs, uri)
}

// loopbackURIAllowed reports whether uri is one of registered, exactly or as a registered
// loopback URI on another port (the rule of loopbackRedirectAllowed).
func loopbackURIAllowed(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	for _, reg := range registered {
		r, loop := op.HTTPLoopbackOrLocalhost(reg)
		if !loop {
			continue
		}
		if r.Scheme == u.Scheme && strings.EqualFold(r.Hostname(), u.Hostname()) &&
			r.Path == u.Path && r.RawQuery == u.RawQuery && portNumber(u.Port()) {
			return true
		}
	}
	return false
}

// checkLoopbackRedirect refuses, before op, an authorization request whose redirect_uri is a
// loopback URI that matches a registered one only by op's looser rule. It returns false when
// it has answered.
func (p *Provider) checkLoopbackRedirect(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		return true // op answers malformed requests
	}
	uri := r.Form.Get("redirect_uri")
	if _, loop := op.HTTPLoopbackOrLocalhost(uri); !loop {
		return true
	}
	cfg, err := p.storage.clientConfig(r.Context(), r.Form.Get("client_id"))
	if err != nil || loopbackRedirectAllowed(cfg, uri) {
		return true // op answers unknown clients
	}
	const msg = "The app asked to return to an address it did not register (RFC 8252: only the port of a loopback address may change)."
	if p.cfg.ErrorPage != nil {
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, msg)
	} else {
		http.Error(w, msg, http.StatusBadRequest)
	}
	return false
}

// portNumber reports whether a loopback redirect's port (RFC 8252 7.3: any port the app
// listens on) is one a browser can connect to: empty (the scheme's), or 1-65535 written
// without a leading zero (RFC 3986 3.2.3 allows them, but 05555 and 5555 would then be two
// spellings of one address). url.Parse has checked that a port is digits only.
func portNumber(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && p[0] != '0' && n <= 65535
}

// checkPostLogoutLoopback refuses, before op, an end_session request whose
// post_logout_redirect_uri is a loopback URI that matches one the client registered only by
// op's looser rule for native apps (op.ValidateEndSessionPostLogoutRedirectURI ignores the
// scheme, the loopback host, user info and fragment as well as the port): as at the
// authorization endpoint (checkLoopbackRedirect), only the port may differ (RFC 8252 7.3;
// RP-Initiated Logout 1.0 section 3: the URI "MUST have been previously registered"). The
// client is the one op validates against: the verified id_token_hint's azp, else client_id.
// It returns false when it has answered.
func (p *Provider) checkPostLogoutLoopback(w http.ResponseWriter, r *http.Request, hint *verifiedHint) bool {
	uri := r.Form.Get("post_logout_redirect_uri")
	if _, loop := op.HTTPLoopbackOrLocalhost(uri); !loop {
		return true
	}
	clientID := r.Form.Get("client_id")
	if hint != nil {
		var claims struct {
			AZP string `json:"azp"`
		}
		if json.Unmarshal(hint.payload, &claims) == nil && claims.AZP != "" {
			clientID = claims.AZP
		}
	}
	if clientID == "" {
		return true // op ignores the redirect without a client
	}
	cfg, err := p.storage.clientConfig(r.Context(), clientID)
	if err != nil || loopbackURIAllowed(cfg.PostLogoutRedirectURIs, uri) {
		return true // op answers unknown clients, and a hint whose azp is not client_id
	}
	const msg = "The app asked to sign you out with a request we cannot accept (an unknown app, or a return address it did not register)."
	if p.cfg.ErrorPage != nil {
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, msg)
	} else {
		http.Error(w, msg, http.StatusBadRequest)
	}
	return false
}
