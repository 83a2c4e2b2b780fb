package sso

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// writeTokenResponse writes a successful token response (RFC 6749 5.1). An
// oidc.AccessTokenResponse, what every grant but token exchange answers, is written directly,
// byte for byte as encoding/json's Encoder writes it (TestAppendTokenResponseMatchesEncoder);
// anything else goes through the Encoder.
func writeTokenResponse(w http.ResponseWriter, resp any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if r, ok := resp.(*oidc.AccessTokenResponse); ok && r != nil {
		_, _ = w.Write(appendTokenResponse(make([]byte, 0, 1024+len(r.IDToken)+len(r.AccessToken)), r))
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// appendTokenResponse appends r as encoding/json's Encoder writes it: the fields in struct
// order, empty ones left out (omitempty), HTML-safe escaping, a newline at the end.
func appendTokenResponse(b []byte, r *oidc.AccessTokenResponse) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			b = appendJSONString(b, v)
		}
	}
	str("access_token", r.AccessToken)
	str("token_type", r.TokenType)
	str("refresh_token", r.RefreshToken)
	if r.ExpiresIn != 0 {
		field("expires_in")
		b = strconv.AppendUint(b, r.ExpiresIn, 10)
	}
	str("id_token", r.IDToken)
	str("state", r.State)
	if len(r.Scope) > 0 {
		field("scope")
		b = appendJSONString(b, r.Scope.String())
	}
	return append(b, '}', '\n')
}

// appendJSONString appends s as a JSON string. Tokens and scopes are plain printable ASCII
// that needs no escaping; anything else is escaped by encoding/json (HTML-safe, as its
// Encoder does by default).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
