package sso

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// BackChannelLogoutEvent is the member of a logout token's events claim (OIDC Back-Channel
// Logout 1.0, section 2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenType is the JWT typ of logout tokens (section 2.4, explicit typing).
const LogoutTokenType = "logout+jwt"

// LogoutToken is what a logout token says: the member (Subject) and/or the session (SessionID)
// that ended, for one client (Audience).
type LogoutToken struct {
	Issuer    string
	Audience  string
	Subject   string
	SessionID string
	// ID is the jti; fresh for every token.
	ID       string
	IssuedAt time.Time
	// Lifetime bounds exp (default 2 minutes: a logout token is used at once).
	Lifetime time.Duration
}

type logoutClaims struct {
	Issuer    string                    `json:"iss"`
	Audience  string                    `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	Expiry    int64                     `json:"exp"`
	JTI       string                    `json:"jti"`
	Subject   string                    `json:"sub,omitempty"`
	SessionID string                    `json:"sid,omitempty"`
	Events    map[string]map[string]any `json:"events"`
}

// SignLogoutToken signs a logout token with the current key for alg (the client's
// id_token_signing_alg; RS256 when unknown). It never carries a nonce.
func (m *KeyManager) SignLogoutToken(alg string, t LogoutToken) (string, error) {
	if t.Issuer == "" || t.Audience == "" {
		return "", errors.New("logout token: issuer and audience are required")
	}
	if t.Subject == "" && t.SessionID == "" {
		return "", errors.New("logout token: a subject or a session id is required")
	}
	if t.ID == "" {
		t.ID = RandomToken()
	}
	if t.IssuedAt.IsZero() {
		t.IssuedAt = m.now()
	}
	if t.Lifetime <= 0 {
		t.Lifetime = 2 * time.Minute
	}
	key, err := m.SigningKey(alg)
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	payload, err := json.Marshal(logoutClaims{
		Issuer: t.Issuer, Audience: t.Audience, IssuedAt: t.IssuedAt.Unix(), Expiry: t.IssuedAt.Add(t.Lifetime).Unix(),
		JTI: t.ID, Subject: t.Subject, SessionID: t.SessionID,
		Events: map[string]map[string]any{BackChannelLogoutEvent: {}},
	})
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	// The ID tokens' signature path (libcrypto for RS256 under keys.rsa_signer), typ logout+jwt.
	jwt, err := signTyped(key, LogoutTokenType, payload)
	if err != nil {
		return "", fmt.Errorf("logout token: sign: %w", err)
	}
	return jwt, nil
}
