package sso

import (
	"errors"
	"net/http"
)

// Resource owner password credentials grant (RFC 6749 section 4.3), for legacy integrations
// only: a client must list "password" in its grant_types (never a public client), and the
// hooks decide with the same throttling, status rules and audit as the login page.

// PasswordAuthenticator is an optional Hooks capability enabling grant_type=password.
type PasswordAuthenticator interface {
	// AuthenticatePassword checks a member's login and password for clientID and returns the
	// member's subject and amr. Expected failures (wrong credentials, status rules, throttling,
	// AMS unavailable) are *GrantError; any other error is a server error.
	AuthenticatePassword(r *http.Request, clientID, username, password string) (subject string, amr []string, err error)
}

// handlesPassword reports whether the token request is a password grant the hooks handle.
func (p *Provider) handlesPassword(r *http.Request) (PasswordAuthenticator, bool) {
	if r.PostForm.Get("grant_type") != GrantPassword {
		return nil, false
	}
	pa, ok := p.storage.hooks.(PasswordAuthenticator)
	return pa, ok
}

func (p *Provider) passwordGrant(w http.ResponseWriter, r *http.Request, cfg *ClientConfig, pa PasswordAuthenticator) {
	ctx := r.Context()
	if cfg.Public {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "a public client may not use the password grant")
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username == "" || password == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	if len(username) > 256 || len(password) > 1024 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the username or password is not right")
		return
	}
	scopes, err := p.grantScopes(cfg, r.PostForm.Get("scope"))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return
	}
	sub, amr, err := pa.AuthenticatePassword(r, cfg.ID, username, password)
	if err != nil {
		var ge *GrantError
		if errors.As(err, &ge) {
			ge.write(w)
			return
		}
		p.log(ctx).ErrorContext(ctx, "password grant failed", "client", cfg.ID, "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "could not check the credentials")
		return
	}
	if !p.memberAllowed(ctx, w, cfg, sub, "invalid_grant", "password") {
		return
	}
	if !p.consentGiven(ctx, w, cfg, sub, scopes, "password") {
		return
	}
	g := grantInfo{clientID: cfg.ID, subject: sub, scopes: scopes, amr: amr, authTime: p.storage.now()}
	p.issueGrant(ctx, w, cfg, newIssuedGrant(cfg, g))
}
