package sso

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/ssobridge/ssobridge/internal/rsasign"
)

// compactSigner writes a key's compact JWS of one typ (JWT for ID tokens, at+jwt, logout+jwt)
// directly: the protected header is the one jose writes for the key and typ, encoded once, and
// each token is the header, the payload and the key's signature in base64url. It is what
// signing through jose does, less jose's per-token header marshalling and JSONWebSignature
// value (most of the non-RSA cost of signing in the refresh profile).
// TestCompactSignerMatchesJose checks both give the same header and verifying tokens. The
// compact signers of one key share its tokenKey: one signature path, one OpenSSL self-test,
// one fallback.
type compactSigner struct {
	*tokenKey
	header string // base64url of the protected header
}

// tokenKey signs a key's tokens: the signature part of its compact signers.
type tokenKey struct {
	alg jose.SignatureAlgorithm
	key crypto.Signer
	// batch: the signature is long (RSA: about 1 ms of one core, 30 times an ES256 one), so
	// appendSigned lets the other goroutines that are ready run before it and again after it.
	batch bool
	// openssl signs RS256 through libcrypto when set (useOpenSSL): rsasign's Signer, the one
	// libcrypto path (SAML signs through it too). A signature it fails does not clear it: its
	// rsasign.Retry (Required: keys.rsa_signer: openssl) says what follows, an error and
	// libcrypto again for the next one, or crypto/rsa during a back-off and then libcrypto
	// again; never crypto/rsa for good (review s26 R1-1).
	openssl atomic.Pointer[rsasign.Signer]
	now     func() time.Time // the back-off's clock
	// kid, log and required name the key in the Signer's log lines and say its mode: set once,
	// before the key signs (tokenSigner).
	kid      string
	log      *slog.Logger
	required bool
}

// useOpenSSL has lib sign this RSA key's tokens (rsasign.Library.NewSigner, which first signs
// one digest both ways: the same bytes, and libcrypto's set-up for the key runs now rather
// than at the first sign-in). A key libcrypto refuses or signs differently keeps crypto/rsa:
// the error says why (the caller logs it). It is not for a key that is signing meanwhile
// (KeyManager runs it before a key is installed, or on a key it does not let sign).
func (c *tokenKey) useOpenSSL(lib *rsasign.Library) error {
	k, ok := c.key.(*rsa.PrivateKey)
	if !ok || c.alg != jose.RS256 {
		return fmt.Errorf("not an RS256 key (%s)", c.alg)
	}
	s, err := lib.NewSigner(k, rsasign.SignerOptions{Required: c.required, Now: func() time.Time { return c.now() },
		OnFailure: c.failed, OnRecover: c.recovered})
	if err != nil {
		return err
	}
	c.openssl.Store(s)
	return nil
}

// failed logs a signature libcrypto failed (rsasign.SignerOptions.OnFailure): under
// keys.rsa_signer: openssl the first of a run (each is the request's error; the recovery is
// logged), in auto each one, with the back-off during which crypto/rsa signs.
func (c *tokenKey) failed(err error, n int64, backoff time.Duration) {
	if c.required {
		c.log.Error("keys: OpenSSL failed to sign, so the token is not signed (keys.rsa_signer: openssl); libcrypto is tried again for the next one",
			"kid", c.kid, "err", err)
		return
	}
	c.log.Warn("keys: OpenSSL failed to sign; crypto/rsa signs with this key until libcrypto is tried again",
		"kid", c.kid, "failures", n, "retry_in", backoff, "err", err)
}

// recovered logs libcrypto signing again after n failures (rsasign.SignerOptions.OnRecover).
func (c *tokenKey) recovered(n int64) {
	c.log.Info("keys: OpenSSL signs with the key again", "kid", c.kid, "failures", n)
}

// newTokenKey is the signature part of key's compact signers.
func newTokenKey(alg jose.SignatureAlgorithm, key crypto.Signer) (*tokenKey, error) {
	switch alg {
	case jose.RS256, jose.ES256, jose.EdDSA:
	default:
		return nil, fmt.Errorf("compact signer: unsupported algorithm %s", alg)
	}
	return &tokenKey{alg: alg, key: key, batch: alg == jose.RS256, now: time.Now, log: slog.Default()}, nil
}

// newCompactSigner builds the signer for a key that tk signs with and jose signs with js (the
// typ and kid wanted): the header is taken from a token js signs.
func newCompactSigner(tk *tokenKey, js jose.Signer) (*compactSigner, error) {
	sig, err := js.Sign([]byte("{}"))
	if err != nil {
		return nil, fmt.Errorf("compact signer: %w", err)
	}
	tok, err := sig.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("compact signer: %w", err)
	}
	header, _, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errors.New("compact signer: malformed token from jose")
	}
	return &compactSigner{tokenKey: tk, header: header}, nil
}

// appendSigned appends the compact JWS of payload to dst (the token response's buffer:
// tokenResponse); on error dst is returned as it was.
//
// An RSA signature (batch) yields the processor before and after it. When several grants are
// ready at once on a processor (the token endpoint under load: the grants of one group commit
// resume together), their signatures then run back to back, and so do the parts of the
// requests before and after them, instead of each request's own work running on a core that
// a millisecond of big-number arithmetic has left cold: on the load-run machine the request
// that follows an RSA signature costs about 35-45 us more CPU than the next ones
// (BenchmarkRefreshGrant64/RS256 -cpu 1: 1,183 -> 1,150 us per grant, medians of 8
// interleaved runs). With nothing else ready a yield returns at once; the token is still only
// released after its rotation has committed (the store runs before the ID token is signed).
func (c *compactSigner) appendSigned(dst, payload []byte) ([]byte, error) {
	if c.batch {
		runtime.Gosched()
		defer runtime.Gosched()
	}
	enc := base64.RawURLEncoding
	start := len(dst)
	buf := append(dst, c.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var sig []byte
	var err error
	switch c.alg {
	case jose.EdDSA:
		sig, err = c.key.Sign(rand.Reader, buf[start:], crypto.Hash(0))
	default:
		digest := sha256.Sum256(buf[start:])
		// What the keys' Sign methods call, called directly: the digest, given to an
		// interface method, would be copied to the heap.
		switch k := c.key.(type) {
		case *rsa.PrivateKey:
			if o := c.openssl.Load(); o != nil {
				d := digest // as below: only this path's copy goes to the heap
				sig, err = o.SignDigest(&d)
			} else {
				sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
			}
		case *ecdsa.PrivateKey:
			sig, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
		default:
			d := digest // this copy is the one on the heap
			sig, err = c.key.Sign(rand.Reader, d[:], crypto.SHA256)
		}
		if err == nil && c.alg == jose.ES256 {
			sig, err = es256Raw(sig)
		}
	}
	if err != nil {
		return buf[:start], fmt.Errorf("sign %s: %w", c.alg, err)
	}
	buf = append(buf, '.')
	return enc.AppendEncode(buf, sig), nil
}

// es256Raw turns an ASN.1 ECDSA P-256 signature into the JWS form (RFC 7518 3.4): R and S,
// 32 bytes each, big-endian.
func es256Raw(der []byte) ([]byte, error) {
	var r, s cryptobyte.String
	in := cryptobyte.String(der)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1(&r, asn1.INTEGER) || !inner.ReadASN1(&s, asn1.INTEGER) || !inner.Empty() {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 64)
	if !fill(out[:32], r) || !fill(out[32:], s) {
		return nil, errors.New("malformed ECDSA signature")
	}
	return out, nil
}

// fill writes the unsigned big-endian integer v (as ASN.1 encodes it: a leading zero when the
// high bit is set) right-aligned into dst.
func fill(dst []byte, v []byte) bool {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	copy(dst[len(dst)-len(v):], v)
	return true
}
