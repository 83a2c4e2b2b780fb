package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"
)

// Signer signs with an RSA private key through libcrypto: PKCS #1 v1.5 SHA-256 signatures
// (SignDigest; Key.Sign: each one checked with crypto/rsa before it is returned), after a
// self-test when it is made (Library.NewSigner). It is the one libcrypto signing path of the
// provider: the OIDC keys' RS256 tokens (package sso's compact signers call SignDigest) and the
// SAML keys' signatures (goxmldsig and crewjam/saml call Sign, a crypto.Signer's: any other
// signature, another hash or PSS, is crypto/rsa's). When libcrypto fails a signature, Retry
// (SignerOptions.Required) decides: an error, or crypto/rsa until a back-off has run; the key
// is never handed to crypto/rsa for good. It is safe for concurrent use.
type Signer struct {
	priv  *rsa.PrivateKey
	key   DigestSigner
	opts  SignerOptions
	retry Retry
}

// DigestSigner makes the RS256 signature of a SHA-256 digest: a Key (libcrypto), or, in
// tests, a wrapper of one that counts or fails its signatures (Signer.WithKey).
type DigestSigner interface {
	Sign(digest []byte) ([]byte, error)
}

// SignerOptions are what a Signer does when libcrypto fails a signature.
type SignerOptions struct {
	// Required (keys.rsa_signer: openssl): crypto/rsa never makes a signature libcrypto
	// failed; the signature is an error and the next one tries libcrypto again.
	Required bool
	// OnFailure, when set, is told of the first failure in a row (n == 1) and of each later
	// one in auto (a retry after the back-off failed), with the back-off (zero: Required).
	OnFailure func(err error, n int64, backoff time.Duration)
	// OnRecover, when set, is told when libcrypto signs again after n failures in a row.
	OnRecover func(n int64)
	// Now is the back-off's clock (nil: time.Now).
	Now func() time.Time
}

// NewSigner loads priv into libcrypto and tests it: one digest signed by libcrypto and by
// crypto/rsa must give the same bytes (PKCS #1 v1.5 is deterministic), and libcrypto's set-up
// for the key (its provider, the RSA code) runs now, not at its first signature. An error
// means libcrypto cannot sign with the key (crypto/rsa must, unless that is not wanted: the
// caller's choice).
func (l *Library) NewSigner(priv *rsa.PrivateKey, opts SignerOptions) (*Signer, error) {
	k, err := l.Load(priv)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("ssobridge rsasign self-test"))
	got, err := k.Sign(digest[:])
	if err != nil {
		return nil, err
	}
	want, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("rsasign: crypto/rsa: %w", err)
	}
	if !bytes.Equal(got, want) {
		return nil, errors.New("rsasign: libcrypto's signature differs from crypto/rsa's")
	}
	return newSigner(priv, k, opts), nil
}

func newSigner(priv *rsa.PrivateKey, k DigestSigner, opts SignerOptions) *Signer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Signer{priv: priv, key: k, opts: opts}
	s.retry.Required = opts.Required
	return s
}

// Key is what makes the signer's libcrypto signatures.
func (s *Signer) Key() DigestSigner { return s.key }

// WithKey is a Signer of the same private key and options whose libcrypto signatures k makes
// (tests: a wrapper of Key that counts or fails them), with no failure recorded.
func (s *Signer) WithKey(k DigestSigner) *Signer { return newSigner(s.priv, k, s.opts) }

// Public is the key's public half.
func (s *Signer) Public() crypto.PublicKey { return &s.priv.PublicKey }

// OpenSSL says whether libcrypto makes the key's PKCS #1 v1.5 SHA-256 signatures now: false in
// auto while crypto/rsa signs after a failure (Retry).
func (s *Signer) OpenSSL() bool { return s.retry.Signs() }

// Sign signs digest as crypto/rsa's PrivateKey.Sign does: SignDigest for PKCS #1 v1.5 with
// SHA-256, crypto/rsa for anything else.
func (s *Signer) Sign(random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss || opts.HashFunc() != crypto.SHA256 || len(digest) != DigestSize {
		return s.priv.Sign(random, digest, opts)
	}
	return s.SignDigest((*[DigestSize]byte)(digest))
}

// SignDigest is the PKCS #1 v1.5 signature of a SHA-256 digest (RS256, RSA-SHA256): through
// libcrypto, or crypto/rsa's (the same bytes) while Retry's back-off after a failure runs
// (auto). When libcrypto fails, the signature is an error under SignerOptions.Required
// (crypto/rsa never signs instead) and libcrypto is tried for the next one; in auto crypto/rsa
// makes it and the back-off starts. SignerOptions.OnFailure and OnRecover are told.
func (s *Signer) SignDigest(digest *[DigestSize]byte) ([]byte, error) {
	if !s.retry.Try(s.opts.Now()) {
		return rsa.SignPKCS1v15(rand.Reader, s.priv, crypto.SHA256, digest[:])
	}
	sig, err := s.key.Sign(digest[:])
	if err == nil {
		if n := s.retry.Succeeded(); n > 0 && s.opts.OnRecover != nil {
			s.opts.OnRecover(n)
		}
		return sig, nil
	}
	n, backoff := s.retry.Failed(s.opts.Now())
	if s.opts.OnFailure != nil && (n == 1 || !s.opts.Required) {
		s.opts.OnFailure(err, n, backoff)
	}
	if s.opts.Required {
		return nil, fmt.Errorf("rsasign: libcrypto failed to sign (keys.rsa_signer: openssl; crypto/rsa does not sign instead): %w", err)
	}
	return rsa.SignPKCS1v15(rand.Reader, s.priv, crypto.SHA256, digest[:])
}
