//go:build cgo && linux

package rsasign

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// TestSignRefusesAWrongSignature: a signature that does not verify with the key's public half
// (libcrypto holding other numbers than the Key says, as a fault would leave it) is refused.
func TestSignRefusesAWrongSignature(t *testing.T) {
	l := open(t)
	k, err := l.Load(key(t, 2048))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	k.pub = other.PublicKey
	if sig, err := k.Sign(d[:]); err == nil {
		t.Fatalf("a signature that does not verify was returned: %x", sig[:8])
	}
}
