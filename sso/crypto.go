package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// aeadCrypto is op's symmetric crypto (opaque access tokens, authorization codes, and the
// bridge's sealed logout and hand-off tickets): AES-256-GCM with a random 96-bit nonce,
// base64url without padding, decoded strictly (non-zero padding bits are refused, so exactly one
// string opens to a given ciphertext). It replaces op's JWE-based default, which spends most of its time
// on JOSE JSON, on the hot path of every grant.
type aeadCrypto struct {
	aead cipher.AEAD
	// bufs are seal's and Decrypt's buffers (*[]byte): the ciphertext is copied into the
	// base64 string, and the plaintext into a string, so a buffer is free again once they
	// return (it holds a nonce and ciphertext then, never a plaintext: seal seals in place,
	// Decrypt clears what it opened).
	bufs sync.Pool
}

func newAEADCrypto(key [32]byte) (*aeadCrypto, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &aeadCrypto{aead: aead}, nil
}

// NewCrypto is the provider's symmetric crypto (Provider.Crypto) under key, without a
// provider: AES-256-GCM, so a changed ciphertext never opens. What seals values with it (the
// bridge's tickets) relies on that.
func NewCrypto(key [32]byte) (op.Crypto, error) { return newAEADCrypto(key) }

// aeadAD binds ciphertexts to this use, so they cannot be confused with other sealed data.
var aeadAD = []byte("ssobridge/op-crypto/v1")

func (c *aeadCrypto) Encrypt(s string) (string, error) { return c.seal(nil, s, "", "") }

// seal is Encrypt of the base64url (unpadded) of raw followed by a+b+d, encoded and
// concatenated in the sealing buffer instead of in a string first (the opaque access token
// seals "<id>:<subject>", its id encoded from its fields: sealAccess). The buffer, nonce ||
// plaintext sealed in place, comes from the pool at its final size (one on the stack would
// escape: the AEAD is an interface); buffers up to 4 KiB go back.
func (c *aeadCrypto) seal(raw []byte, a, b, d string) (string, error) {
	enc := base64.RawURLEncoding
	ns := c.aead.NonceSize()
	n := ns + enc.EncodedLen(len(raw)) + len(a) + len(b) + len(d) + c.aead.Overhead()
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := *bp
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf = buf[:ns]
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	buf = append(append(append(enc.AppendEncode(buf, raw), a...), b...), d...)
	sealed := c.aead.Seal(buf[ns:ns], buf[:ns], buf[ns:], aeadAD)
	out := b64(buf[:ns+len(sealed)])
	if cap(buf) <= 4<<10 {
		*bp = buf[:0]
		c.bufs.Put(bp)
	}
	return out, nil
}

var errCiphertext = errors.New("sso: invalid ciphertext")

func (c *aeadCrypto) Decrypt(s string) (string, error) {
	// The decoder skips CR and LF even in strict mode: refuse them, so that no other string
	// opens to the same ciphertext.
	if len(s) > 16<<10 || strings.ContainsAny(s, "\r\n") {
		return "", errCiphertext
	}
	// Decoded and opened in place in a pooled buffer, as seal seals: the plaintext string is
	// the one allocation (a code is opened on every code grant).
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	raw, err := base64.RawURLEncoding.Strict().AppendDecode((*bp)[:0], []byte(s))
	out := ""
	if ns := c.aead.NonceSize(); err == nil && len(raw) >= ns+c.aead.Overhead() {
		var plain []byte
		if plain, err = c.aead.Open(raw[ns:ns], raw[:ns], raw[ns:], aeadAD); err == nil {
			out = string(plain)
			clear(plain) // the buffer goes back to the pool without the plaintext
		}
	} else {
		err = errCiphertext
	}
	if cap(raw) <= 4<<10 {
		*bp = raw[:0]
		c.bufs.Put(bp)
	}
	if err != nil {
		return "", errCiphertext
	}
	return out, nil
}
