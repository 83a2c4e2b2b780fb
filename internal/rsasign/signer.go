package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Signer is a crypto.Signer for an RSA private key whose PKCS #1 v1.5 SHA-256 signatures
// libcrypto makes (Key.Sign: each one checked with crypto/rsa before it is returned). Any other
// signature (another hash, PSS) is crypto/rsa's. When libcrypto fails a signature, crypto/rsa
// makes that one and every later one, and onFailure (when set) is told once. It is for the
// libraries that sign with a crypto.Signer (goxmldsig, crewjam/saml).
type Signer struct {
	priv      *rsa.PrivateKey
	key       atomic.Pointer[Key]
	onFailure func(error)
}

// NewSigner loads priv into libcrypto and tests it: one digest signed by libcrypto and by
// crypto/rsa must give the same bytes (PKCS #1 v1.5 is deterministic), and libcrypto's set-up
// for the key runs now, not at its first signature. An error means libcrypto cannot sign with
// the key (crypto/rsa must).
func (l *Library) NewSigner(priv *rsa.PrivateKey, onFailure func(error)) (*Signer, error) {
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
	s := &Signer{priv: priv, onFailure: onFailure}
	s.key.Store(k)
	return s, nil
}

// Public is the key's public half.
func (s *Signer) Public() crypto.PublicKey { return &s.priv.PublicKey }

// OpenSSL says whether libcrypto makes the key's PKCS #1 v1.5 SHA-256 signatures (no signature
// failed since NewSigner).
func (s *Signer) OpenSSL() bool { return s.key.Load() != nil }

// Sign signs digest as crypto/rsa's PrivateKey.Sign does: through libcrypto for PKCS #1 v1.5
// with SHA-256, with crypto/rsa otherwise or once libcrypto has failed.
func (s *Signer) Sign(random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k := s.key.Load()
	if _, pss := opts.(*rsa.PSSOptions); k == nil || pss || opts.HashFunc() != crypto.SHA256 || len(digest) != DigestSize {
		return s.priv.Sign(random, digest, opts)
	}
	sig, err := k.Sign(digest)
	if err == nil {
		return sig, nil
	}
	if s.key.CompareAndSwap(k, nil) && s.onFailure != nil {
		s.onFailure(err)
	}
	return s.priv.Sign(random, digest, opts)
}
