//go:build cgo && linux

package rsasign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// TestSignerFallsBack: when libcrypto's signature fails (here: its check with the public half,
// made to fail as in TestSignRefusesAWrongSignature), crypto/rsa signs that digest and the
// following ones, and onFailure is told once.
func TestSignerFallsBack(t *testing.T) {
	l := open(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	s, err := l.NewSigner(priv, func(error) { failures++ })
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.key.Load().pub = other.PublicKey
	d := sha256.Sum256([]byte("payload"))
	for i := range 3 {
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
	if failures != 1 || s.OpenSSL() {
		t.Fatalf("%d failures told, OpenSSL %v; want 1, false", failures, s.OpenSSL())
	}
}
