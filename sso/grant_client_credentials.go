package sso

import (
	"context"
	"errors"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client credentials grant (RFC 6749 section 4.4): a service acting for itself. op runs the
// grant through ClientCredentialsStorage; the access token has no member subject (its JWT
// form carries the client id as sub, RFC 9068 section 2.2) and no refresh token.

var _ op.ClientCredentialsStorage = (*storage)(nil)

// clientCredentialsRequest is a validated client_credentials grant.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
	audience []string
}

// GetSubject is the client: op uses it for the opaque token's "<id>:<subject>" and the JWT.
func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return r.audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }
func (r *clientCredentialsRequest) GetClientID() string   { return r.clientID }

// grant implements granter: the stored record has no subject.
func (r *clientCredentialsRequest) grant() grantInfo {
	return grantInfo{clientID: r.clientID, audience: r.audience, scopes: r.scopes}
}

// granter is a token request of a grant op does not know, describing what it issues.
type granter interface{ grant() grantInfo }

// ClientCredentials authenticates a confidential client for the client_credentials grant.
func (s *storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	cfg, err := s.clientConfig(ctx, clientID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		(&ClientConfig{SecretHash: dummySecretHash}).VerifySecret(clientSecret)
		return nil, errors.New("invalid client credentials")
	}
	if cfg.Public {
		return nil, errors.New("a public client cannot use client_credentials")
	}
	if id, ok := authenticatedClient(ctx); ok && id == clientID {
		return s.opClient(cfg), nil
	}
	if !cfg.VerifySecret(clientSecret) {
		s.hooks.Event(ctx, "client.auth_failure", "", clientID, "wrong secret")
		return nil, errors.New("invalid client credentials")
	}
	return s.opClient(cfg), nil
}

// ClientCredentialsTokenRequest grants the requested scopes when every one is among the
// client's configured scopes (all of them when none is requested); the audience is the
// client's configured audiences, else the client itself.
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	cfg, err := s.clientConfig(ctx, clientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if !cfg.AllowsGrant(GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use client_credentials")
	}
	granted := scopes
	if len(granted) == 0 {
		granted = slices.Clone(cfg.Scopes)
	}
	for _, sc := range granted {
		if !slices.Contains(cfg.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope not allowed for this client")
		}
	}
	return &clientCredentialsRequest{clientID: clientID, scopes: granted, audience: accessTokenAudience(cfg, []string{clientID})}, nil
}
