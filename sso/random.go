package sso

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
	"time"
)

// RandomToken returns 256 random bits, base64url without padding (43 characters).
func RandomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sso: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	var out [43]byte // one allocation, the string (EncodeToString makes two)
	base64.RawURLEncoding.Encode(out[:], b[:])
	return string(out[:])
}

// TimeOrderedToken is a RandomToken after t's Unix time in nanoseconds as 16 hex digits (59
// characters, the base64url alphabet): tokens minted later sort after earlier ones, so a store
// that keys rows by them appends to the b-tree page it wrote last instead of a random one (an
// auth request, and the token family named after it). The random part keeps it unguessable;
// the prefix only tells when it was made.
func TimeOrderedToken(t time.Time) string {
	var b [16 + 43]byte
	hex.Encode(b[:16], binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("sso: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	base64.RawURLEncoding.Encode(b[16:], r[:])
	return string(b[:])
}

// HashToken returns the hex SHA-256 of a token, the only form in which tokens, codes and
// secrets are stored.
func HashToken(token string) string {
	var out [2 * sha256.Size]byte
	hashTokenHex(&out, token)
	return string(out[:])
}

// hashTokenHex writes HashToken(token) into out, for a comparison that needs no string.
func hashTokenHex(out *[2 * sha256.Size]byte, token string) {
	var in [256]byte // tokens fit: hashed without a copy on the heap (hot: several per grant)
	sum := sha256.Sum256(append(in[:0], token...))
	hex.Encode(out[:], sum[:])
}

// b64 is base64url without padding of src as a string, in one allocation (EncodeToString makes
// two: its buffer and the string) when it fits a stack buffer.
func b64(src []byte) string {
	enc := base64.RawURLEncoding
	var buf [2048]byte
	if enc.EncodedLen(len(src)) > len(buf) {
		return enc.EncodeToString(src)
	}
	return string(enc.AppendEncode(buf[:0], src))
}

// macPool hands out HMAC-SHA256 states of one key, so that a hot keyed hash (refresh-token
// successors, published sids) does not build its hash states (hmac.New's four allocations and
// the key schedule) each time.
type macPool struct{ p sync.Pool }

// pooledMAC is a keyed HMAC with the buffer its input is gathered in: a slice written to the
// hash through its interface escapes, so the parts are copied into this buffer (kept with the
// HMAC) instead of each being converted on the heap, and the sum is taken into sum.
type pooledMAC struct {
	h   hash.Hash
	in  []byte
	sum [sha256.Size]byte
}

func newMACPool(key []byte) *macPool {
	return &macPool{p: sync.Pool{New: func() any { return &pooledMAC{h: hmac.New(sha256.New, key)} }}}
}

// sum appends to dst the HMAC of the concatenation of parts.
func (m *macPool) sum(dst []byte, parts ...string) []byte {
	e := m.p.Get().(*pooledMAC)
	in := e.in[:0]
	for _, p := range parts {
		in = append(in, p...)
	}
	return m.finish(dst, e, in)
}

// sumBytes appends to dst the HMAC of in.
func (m *macPool) sumBytes(dst, in []byte) []byte {
	e := m.p.Get().(*pooledMAC)
	return m.finish(dst, e, append(e.in[:0], in...))
}

// finish appends to dst the HMAC of in, gathered in e's buffer, and gives e back.
func (m *macPool) finish(dst []byte, e *pooledMAC, in []byte) []byte {
	e.h.Reset()
	_, _ = e.h.Write(in)
	dst = append(dst, e.h.Sum(e.sum[:0])...)
	if cap(in) <= 4<<10 {
		e.in = in
	}
	m.p.Put(e)
	return dst
}

// equalHashes compares two hex digests in constant time.
func equalHashes(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
