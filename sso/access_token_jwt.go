package sso

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// JWT access tokens (RFC 9068).
//
// op signs its own JWT access tokens with the header typ "JWT" and offers no hook to change it,
// so op is always told the access token is opaque (client.AccessTokenType) and the provider's
// crypto (tokenCrypto) hands op the at+jwt the storage signed when the token was issued: the
// storage signs it in CreateAccessToken (where it knows the grant) and parks it under the
// token id; op then asks the crypto to "encrypt" "<id>:<subject>" into the token string, and
// the crypto returns the parked JWT instead. Everything else (codes, opaque tokens) is op's
// AES-GCM crypto unchanged. Userinfo, introspection and revocation verify a presented JWT
// against our keys through op's access token verifier and find the stored record by its jti,
// so revocation still applies to JWT access tokens.

// TypeAccessTokenJWT is the JOSE header typ of JWT access tokens (RFC 9068 section 2.1).
const TypeAccessTokenJWT = "at+jwt"

// tokenCrypto wraps op's crypto to return parked at+jwt access tokens.
type tokenCrypto struct {
	op.Crypto

	mu     sync.Mutex
	parked map[string]parkedToken // token id -> signed JWT, for the few microseconds until op asks
}

type parkedToken struct {
	jwt string
	at  time.Time
}

func newTokenCrypto(key [32]byte) (*tokenCrypto, error) {
	c, err := newAEADCrypto(key)
	if err != nil {
		return nil, err
	}
	return &tokenCrypto{Crypto: c, parked: map[string]parkedToken{}}, nil
}

// park keeps a signed access token until op turns its id into the token string.
func (c *tokenCrypto) park(id, jwt string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// op asks right after the storage returns; anything older was abandoned by a failed grant.
	if len(c.parked) > 64 {
		for k, v := range c.parked {
			if now.Sub(v.at) > time.Minute {
				delete(c.parked, k)
			}
		}
	}
	c.parked[id] = parkedToken{jwt: jwt, at: now}
}

// Encrypt returns the parked JWT for "<token id>:<subject>", else op's ciphertext.
func (c *tokenCrypto) Encrypt(s string) (string, error) {
	if id, _, ok := strings.Cut(s, ":"); ok {
		c.mu.Lock()
		p, found := c.parked[id]
		delete(c.parked, id)
		c.mu.Unlock()
		if found {
			return p.jwt, nil
		}
	}
	return c.Crypto.Encrypt(s)
}

// sealAccess is Encrypt("<id>:<subject>") for the opaque access token of id (the parked JWT
// when the storage signed one), without building the string first when c seals with
// aeadCrypto. With id "", the id is the base64url of fields (appendAccessIDFields), encoded
// into the sealing buffer: an id the storage made for a client without JWT access tokens,
// which has nothing parked.
func (c *tokenCrypto) sealAccess(id string, fields []byte, subject string) (string, error) {
	if id == "" {
		if a, ok := c.Crypto.(*aeadCrypto); ok {
			return a.seal(fields, ":", subject, "")
		}
		return c.Crypto.Encrypt(b64(fields) + ":" + subject)
	}
	c.mu.Lock()
	p, found := c.parked[id]
	if found {
		delete(c.parked, id)
	}
	c.mu.Unlock()
	if found {
		return p.jwt, nil
	}
	if a, ok := c.Crypto.(*aeadCrypto); ok {
		return a.seal(nil, id, ":", subject)
	}
	return c.Crypto.Encrypt(id + ":" + subject)
}

// Decrypt refuses JWS-shaped input quickly (op then verifies it as a JWT access token).
func (c *tokenCrypto) Decrypt(s string) (string, error) {
	if strings.Count(s, ".") == 2 {
		return "", fmt.Errorf("sso: not an encrypted token")
	}
	return c.Crypto.Decrypt(s)
}

// accessTokenAudience is the audience of an access token for a client: its configured
// audiences (resource servers), else the client itself.
func accessTokenAudience(cfg *ClientConfig, requested []string) []string {
	if cfg != nil && len(cfg.Audiences) > 0 {
		return append([]string(nil), cfg.Audiences...)
	}
	return requested
}

// signAccessToken signs the RFC 9068 JWT for an issued access token record.
func (s *storage) signAccessToken(ctx context.Context, cfg *ClientConfig, at *AccessToken, tokenID string) (string, error) {
	claims := map[string]any{}
	if at.Subject != "" {
		private, err := s.hooks.Claims(ctx, at.Subject, at.ClientID, at.Scopes, TargetAccessToken)
		if err != nil {
			return "", fmt.Errorf("access token claims: %w", err)
		}
		for k, v := range private {
			claims[k] = v
		}
		if !at.AuthTime.IsZero() {
			claims["auth_time"] = at.AuthTime.Unix()
		}
		if len(at.AMR) > 0 {
			claims["amr"] = at.AMR
		}
		if at.SessionID != "" {
			claims["sid"] = s.publicSID(at.SessionID)
		}
	}
	sub := at.Subject
	if sub == "" {
		sub = at.ClientID // RFC 9068 section 2.2: the client itself when no resource owner is involved
	}
	claims["iss"] = s.issuer
	claims["sub"] = sub
	claims["aud"] = at.Audience
	claims["exp"] = at.ExpiresAt.Unix()
	claims["iat"] = at.CreatedAt.Unix()
	claims["nbf"] = at.CreatedAt.Unix()
	claims["jti"] = tokenID
	claims["client_id"] = at.ClientID
	if len(at.Scopes) > 0 {
		claims["scope"] = strings.Join(at.Scopes, " ")
	} else {
		delete(claims, "scope")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("access token claims: %w", err)
	}
	key, err := s.keys.SigningKey(cfg.IDTokenSigningAlg)
	if err != nil {
		return "", fmt.Errorf("access token signing key: %w", err)
	}
	// The ID tokens' signature path (libcrypto for RS256 under keys.rsa_signer), typ at+jwt.
	jwt, err := signTyped(key, TypeAccessTokenJWT, payload)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return jwt, nil
}

// finishAccessToken signs and parks the JWT of an issued access token whose id's fields are
// fields when the client wants JWT access tokens, and returns the id then; else "" (the id is
// encoded when the token is sealed: tokenCrypto.sealAccess).
func (s *storage) finishAccessToken(ctx context.Context, cfg *ClientConfig, at *AccessToken, fields []byte) (string, error) {
	if cfg == nil || cfg.AccessTokenFormat != "jwt" || s.crypto == nil {
		return "", nil
	}
	tokenID := b64(fields)
	jwt, err := s.signAccessToken(ctx, cfg, at, tokenID)
	if err != nil {
		return "", err
	}
	s.crypto.park(tokenID, jwt, s.now())
	return tokenID, nil
}
