package sso

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// tokenResponses writes the token endpoint's successful responses (RFC 6749 5.1): a tokenBody
// (every grant's answer but client_credentials: tokenResponse) as it is, an
// oidc.AccessTokenResponse (op's client_credentials answer) written directly, byte for byte as
// encoding/json's Encoder writes it (TestAppendTokenResponseMatchesEncoder), anything else
// through the Encoder. The zero value is ready to use; a Provider owns one.
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
	// serveAPI has said it for every API response (read without Get's canonicalisation of
	// the name: it is canonical).
	if v := h["Cache-Control"]; len(v) == 0 || v[0] != "no-store" {
		h["Cache-Control"] = headerNoStore
		h["Pragma"] = headerNoCache
	}
	if tb, ok := resp.(*tokenBody); ok && tb != nil {
		_, _ = w.Write(*tb)
		t.putBuffer((*[]byte)(tb))
		return
	}
	if r, ok := resp.(*oidc.AccessTokenResponse); ok && r != nil {
		bp := t.buffer()
		*bp = appendTokenResponse((*bp)[:0], r)
		_, _ = w.Write(*bp)
		t.putBuffer(bp)
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// buffer returns a response buffer of the pool.
func (t *tokenResponses) buffer() *[]byte {
	bp, _ := t.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	return bp
}

// putBuffer gives a response buffer back once written (one grown past 16 KiB is dropped).
func (t *tokenResponses) putBuffer(bp *[]byte) {
	if cap(*bp) <= 16<<10 {
		t.bufs.Put(bp)
	}
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
// order, empty ones left out (omitempty), HTML-safe escaping, a newline at the end (the
// client_credentials grant's response, op's).
func appendTokenResponse(b []byte, r *oidc.AccessTokenResponse) []byte {
	j := tokenJSON{b: append(b, '{'), first: true}
	j.head(r)
	j.str("id_token", r.IDToken)
	j.tail(r)
	j.end()
	return j.b
}

// tokenJSON writes a token response's members (tokenResponse): head, the id_token, tail, any
// member after the response's own, end.
type tokenJSON struct {
	b     []byte
	first bool // no member written yet
}

// field writes a member's name (and the comma before it).
func (j *tokenJSON) field(name string) {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.first = false
	j.b = append(j.b, '"')
	j.b = append(j.b, name...)
	j.b = append(j.b, '"', ':')
}

// str writes a string member unless v is empty (omitempty).
func (j *tokenJSON) str(name, v string) {
	if v != "" {
		j.field(name)
		j.b = appendJSONString(j.b, v)
	}
}

// head writes the members before id_token.
func (j *tokenJSON) head(r *oidc.AccessTokenResponse) {
	j.str("access_token", r.AccessToken)
	j.str("token_type", r.TokenType)
	j.str("refresh_token", r.RefreshToken)
	if r.ExpiresIn != 0 {
		j.field("expires_in")
		j.b = strconv.AppendUint(j.b, r.ExpiresIn, 10)
	}
}

// tail writes the members after id_token. The scope is written as the
// string its SpaceDelimitedArray encodes to (the scopes joined by spaces), without the join
// when no scope needs escaping.
func (j *tokenJSON) tail(r *oidc.AccessTokenResponse) {
	j.str("state", r.State)
	if len(r.Scope) > 0 {
		j.field("scope")
		plain := true
		for _, s := range r.Scope {
			for i := 0; i < len(s) && plain; i++ {
				plain = jsonPlain[s[i]]
			}
		}
		if plain {
			j.b = append(j.b, '"')
			for i, s := range r.Scope {
				if i > 0 {
					j.b = append(j.b, ' ')
				}
				j.b = append(j.b, s...)
			}
			j.b = append(j.b, '"')
		} else {
			j.b = appendJSONString(j.b, r.Scope.String())
		}
	}
}

// end ends the object, with the newline the Encoder writes after it.
func (j *tokenJSON) end() { j.b = append(j.b, '}', '\n') }

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
