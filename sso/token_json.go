package sso

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// tokenResponses writes the token endpoint's successful responses (RFC 6749 5.1). An
// oidc.AccessTokenResponse, what every grant but token exchange answers, is written directly,
// byte for byte as encoding/json's Encoder writes it (TestAppendTokenResponseMatchesEncoder);
// anything else goes through the Encoder. The zero value is ready to use; a Provider owns one.
type tokenResponses struct {
	// bufs are the write buffers (*[]byte): the ResponseWriter copies what it is given, so a
	// buffer is free again once Write returns. Buffers up to 16 KiB are kept.
	bufs sync.Pool
	// payloads are ID token payload buffers (*[]byte, idToken): the signers copy the payload,
	// so a buffer is free again once the token is signed.
	payloads sync.Pool
}

// payload returns an ID token payload buffer, empty, of 512 bytes at least.
func (t *tokenResponses) payload() *[]byte {
	if bp, _ := t.payloads.Get().(*[]byte); bp != nil {
		*bp = (*bp)[:0]
		return bp
	}
	b := make([]byte, 0, 512)
	return &b
}

// putPayload gives a payload buffer back (one grown past 16 KiB is dropped).
func (t *tokenResponses) putPayload(bp *[]byte) {
	if cap(*bp) <= 16<<10 {
		t.payloads.Put(bp)
	}
}

// write writes resp with its headers.
func (t *tokenResponses) write(w http.ResponseWriter, resp any) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	if h.Get("Cache-Control") != "no-store" { // serveAPI has said it for every API response
		h["Cache-Control"] = headerNoStore
		h["Pragma"] = headerNoCache
	}
	if r, ok := resp.(*oidc.AccessTokenResponse); ok && r != nil {
		bp, _ := t.bufs.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		b := appendTokenResponse((*bp)[:0], r)
		_, _ = w.Write(b)
		if cap(b) <= 16<<10 {
			*bp = b
			t.bufs.Put(bp)
		}
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// Header values the API endpoints set on every response, shared instead of a new slice per
// Header.Set: net/http copies them when it writes the header (Header.Clone), and nothing
// appends to them in place (cap == len: an append copies).
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store"}
	headerNoCache = []string{"no-cache"}
)

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

// jsonPlain marks the bytes encoding/json writes as they are (HTML-safe): printable ASCII but
// the quote, the backslash and <, >, &. A table: the scan runs over every token of a response.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Tokens and scopes are plain printable ASCII
// that needs no escaping; anything else is escaped by encoding/json (HTML-safe, as its
// Encoder does by default).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
