package sso

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// idTokenShaped reports whether raw, given as end_session's id_token_hint, can be an ID token
// this provider issued (OIDC RP-Initiated Logout 1.0 section 2: the OP must accept only an ID
// token as the hint, never an access token). It looks at the token's kind, not at claims an
// ID token happens to lack (a JWT access token need not carry scope):
//   - a compact JWS (three parts; nothing this provider issues is encrypted) whose protected
//     header typ is JWT or absent: ID tokens are signed with typ JWT, JWT access tokens with
//     at+jwt (RFC 9068 2.1), logout tokens with logout+jwt (Back-Channel Logout 2.4);
//   - claims with what every ID token has (OIDC Core 2: sub, aud, exp, iat) and without a
//     logout token's events.
//
// Nothing is verified here: op verifies the signature (which covers the header and the claims)
// of a hint that passes; a hint that does not is ignored, which only its sender loses.
func idTokenShaped(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	var header struct {
		Typ *string `json:"typ"`
	}
	if !decodeSegment(parts[0], &header) {
		return false
	}
	if header.Typ != nil && !strings.EqualFold(*header.Typ, "JWT") {
		return false
	}
	var claims map[string]json.RawMessage
	if !decodeSegment(parts[1], &claims) {
		return false
	}
	for _, must := range []string{"sub", "aud", "exp", "iat"} {
		if _, ok := claims[must]; !ok {
			return false
		}
	}
	_, events := claims["events"]
	return !events
}

// decodeSegment decodes one base64url segment of a compact JWS as JSON into v.
func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}
