package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"
)

// Signer is a crypto.Signer for an RSA private key whose PKCS #1 v1.5 SHA-256 signatures
// libcrypto makes (Key.Sign: each one checked with crypto/rsa before it is returned). Any other
// signature (another hash, PSS) is crypto/rsa's. When libcrypto fails a signature, Retry
// (SignerOptions.Required) decides: an error, or crypto/rsa until a back-off has run; the key
// is never handed to crypto/rsa for good. It is for the libraries that sign with a
// crypto.Signer (goxmldsig, crewjam/saml).
type Signer struct {
	priv  *rsa.PrivateKey
	key   *Key
	opts  SignerOptions
	retry Retry
	now   func() time.Time
}

// SignerOptions are what a Signer does when libcrypto fails a signature.
type SignerOptions struct {
	// Required (keys.rsa_signer: openssl): crypto/rsa never makes a signature libcrypto
	// failed; Sign answers an error and the next signature tries libcrypto again.
	Required bool
	// OnFailure, when set, is told of the first failure in a row (n == 1) and of each later
	// one in auto (a retry after the back-off failed), with the back-off (zero: Required).
	OnFailure func(err error, n int64, backoff time.Duration)
	// OnRecover, when set, is told when libcrypto signs again after n failures in a row.
	OnRecover func(n int64)
}

// NewSigner loads priv into libcrypto and tests it: one digest signed by libcrypto and by
// crypto/rsa must give the same bytes (PKCS #1 v1.5 is deterministic), and libcrypto's set-up
// for the key runs now, not at its first signature. An error means libcrypto cannot sign with
// the key (crypto/rsa must, unless that is not wanted: the caller's choice).
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
	s := &Signer{priv: priv, key: k, opts: opts, now: time.Now}
	s.retry.Required = opts.Required
	return s, nil
}

// Public is the key's public half.
func (s *Signer) Public() crypto.PublicKey { return &s.priv.PublicKey }

// OpenSSL says whether libcrypto makes the key's PKCS #1 v1.5 SHA-256 signatures now: false in
// auto while crypto/rsa signs after a failure (Retry).
func (s *Signer) OpenSSL() bool { return s.retry.Signs() }

// Sign signs digest as crypto/rsa's PrivateKey.Sign does: through libcrypto for PKCS #1 v1.5
// with SHA-256, with crypto/rsa otherwise. When libcrypto fails, the signature is an error
// under SignerOptions.Required, else crypto/rsa's (and crypto/rsa signs until the back-off
// has run).
func (s *Signer) Sign(random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss || opts.HashFunc() != crypto.SHA256 || len(digest) != DigestSize {
		return s.priv.Sign(random, digest, opts)
	}
	if !s.retry.Try(s.now()) {
		return s.priv.Sign(random, digest, opts)
	}
	sig, err := s.key.Sign(digest)
	if err == nil {
		if n := s.retry.Succeeded(); n > 0 && s.opts.OnRecover != nil {
			s.opts.OnRecover(n)
		}
		return sig, nil
	}
	n, backoff := s.retry.Failed(s.now())
	if s.opts.OnFailure != nil && (n == 1 || !s.opts.Required) {
		s.opts.OnFailure(err, n, backoff)
	}
	if s.opts.Required {
		return nil, fmt.Errorf("rsasign: libcrypto failed to sign (crypto/rsa does not sign instead): %w", err)
	}
	return s.priv.Sign(random, digest, opts)
}
