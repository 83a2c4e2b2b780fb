package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"
)

// TestSignerAsCryptoRSA: the crypto.Signer adapter gives crypto/rsa's PKCS #1 v1.5 SHA-256
// signature (through libcrypto), and hands every other signature (SHA-512, PSS) to crypto/rsa:
// each verifies with the key's public half.
func TestSignerAsCryptoRSA(t *testing.T) {
	l := open(t)
	priv := key(t, 2048)
	s, err := l.NewSigner(priv, SignerOptions{OnFailure: func(err error, _ int64, _ time.Duration) { t.Errorf("libcrypto failed: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if !s.OpenSSL() {
		t.Fatal("OpenSSL does not sign after the self-test")
	}
	var signer crypto.Signer = s
	d256 := sha256.Sum256([]byte("payload"))
	d512 := sha512.Sum512([]byte("payload"))
	for _, c := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
		check  func(sig []byte) error
	}{
		{"PKCS1v15 SHA-256", d256[:], crypto.SHA256, func(sig []byte) error {
			want, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d256[:])
			if err == nil && !bytes.Equal(sig, want) {
				t.Errorf("not crypto/rsa's signature")
			}
			return err
		}},
		{"PKCS1v15 SHA-512", d512[:], crypto.SHA512, func(sig []byte) error {
			return rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA512, d512[:], sig)
		}},
		{"PSS SHA-256", d256[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, func(sig []byte) error {
			return rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, d256[:], sig, nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig, err := signer.Sign(rand.Reader, c.digest, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.check(sig); err != nil {
				t.Fatal(err)
			}
		})
	}
	if !s.OpenSSL() || signer.Public().(*rsa.PublicKey).N.Cmp(priv.N) != 0 {
		t.Fatal("the signer changed")
	}
}

// TestNewSignerRefusesAKeyLibcryptoCannotSign: a key Go signs with and libcrypto refuses (six
// primes: OpenSSL 3 signs with at most five) fails NewSigner's self-test.
func TestNewSignerRefusesAKeyLibcryptoCannotSign(t *testing.T) {
	l := open(t)
	priv, err := rsa.GenerateMultiPrimeKey(rand.Reader, 6, 2048) //nolint:staticcheck // the point: a key libcrypto refuses
	if err != nil {
		t.Fatal(err)
	}
	if s, err := l.NewSigner(priv, SignerOptions{}); err == nil {
		t.Fatalf("NewSigner accepted a key libcrypto cannot sign with (OpenSSL %v)", s.OpenSSL())
	}
}
