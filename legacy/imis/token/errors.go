package token

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// ErrInvalidGrant: the AMS answered HTTP 400 invalid_grant. The refresh token is invalid,
	// expired or already used, or the user name or password is wrong. The member must sign
	// in to the AMS again; it is not an outage.
	ErrInvalidGrant = errors.New("imis/token: the AMS rejected the grant (token invalid, expired or already used, or wrong password)")
	// ErrInvalidClient: the AMS answered invalid_client (HTTP 400 or 401). Our client
	// registration (client_id / client_secret) is wrong; an operator must fix it.
	ErrInvalidClient = errors.New("imis/token: the AMS rejected our client credentials (invalid_client)")
)

// Error is an OAuth error answer of the token endpoint. Invalid-grant and invalid-client
// answers are returned as *Error directly (errors.Is matches ErrInvalidGrant or
// ErrInvalidClient); other answers are wrapped in legacy.ErrUnavailable.
type Error struct {
	// Grant is "refresh_token" or "password".
	Grant string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the OAuth error code ("invalid_grant", ...), empty if the body had none.
	Code string
	// Description is the AMS's error_description, sanitised: printable, at most 200
	// characters, with anything we sent (token, password, secret) replaced by "[redacted]".
	Description string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imis/token: %s grant: the AMS answered HTTP %d", e.Grant, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, " (%q)", e.Description)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidGrant) and errors.Is(err, ErrInvalidClient) work.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	case ErrInvalidClient:
		return e.Code == "invalid_client"
	}
	return false
}

const maxDescription = 200

// sanitize makes an AMS-provided string safe to show and log: it removes every occurrence
// of the secrets we sent, drops control characters and truncates it.
func sanitize(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 { // shorter values would redact ordinary words
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxDescription {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || (!unicode.IsPrint(r) && r != ' ') {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// oauthCode accepts an OAuth error code only when it has the RFC 6749 shape, so that an
// arbitrary string from a misbehaving server never reaches an error message as a "code".
func oauthCode(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return ""
		}
	}
	return s
}
