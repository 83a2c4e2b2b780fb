package sso

import (
	"context"
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
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

// passwordGrant is the password grant, registered when the hooks are a PasswordAuthenticator.
type passwordGrant struct {
	p  *Provider
	pa PasswordAuthenticator
}

func (passwordGrant) grantType() string { return GrantPassword }
func (passwordGrant) scopes() scopeRule { return scopesMember }

func (g passwordGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	cfg := req.client
	if cfg.Public {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("a public client may not use the password grant")
	}
	username, password := req.form.Get("username"), req.form.Get("password")
	if username == "" || password == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("username and password are required")
	}
	if len(username) > 256 || len(password) > 1024 {
		return nil, oidc.ErrInvalidGrant().WithDescription("the username or password is not right")
	}
	sub, amr, err := g.pa.AuthenticatePassword(req.r, cfg.ID, username, password)
	if err != nil {
		var ge *GrantError
		if errors.As(err, &ge) {
			return nil, ge
		}
		return nil, &GrantError{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not check the credentials", Err: err}
	}
	info := grantInfo{clientID: cfg.ID, subject: sub, scopes: req.scopes, amr: amr, authTime: g.p.storage.now()}
	targetOf(&info, req)
	return g.p.issueMember(ctx, cfg, "password", memberGrant{info: info, deniedCode: "invalid_grant", consent: true})
}
