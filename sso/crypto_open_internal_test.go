package sso

import (
	"bytes"
	"testing"
)

// TestDecryptInPlace: Decrypt opens in a pooled buffer (issue 14: a code is opened on every code
// grant): one allocation, the plaintext string, and the buffer goes back to the pool without
// the plaintext in it. It fails if Decrypt allocates its decoding or opening again.
func TestDecryptInPlace(t *testing.T) {
	c, err := newAEADCrypto([32]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	const id = "0196d1f0c2a47e3b-request-id-0123456789abcdef"
	ct, err := c.Encrypt(id)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if p, err := c.Decrypt(ct); err != nil || p != id {
			t.Fatalf("Decrypt = %q, %v", p, err)
		}
	}); n > 1 {
		t.Errorf("Decrypt: %v allocations, want 1 (the plaintext)", n)
	}
	if _, err := c.Decrypt(ct); err != nil {
		t.Fatal(err)
	}
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		t.Fatal("Decrypt gave no buffer back to the pool")
	}
	if b := (*bp)[:cap(*bp)]; bytes.Contains(b, []byte(id)) {
		t.Error("a pooled buffer holds the plaintext Decrypt opened")
	}
	last := "A"
	if ct[len(ct)-1] == 'A' {
		last = "B"
	}
	for _, bad := range []string{ct[:len(ct)-1] + last, ct[:len(ct)-2], ct + "\n", "", "!!"} {
		if _, err := c.Decrypt(bad); err == nil {
			t.Errorf("Decrypt(%q) opened", bad)
		}
	}
}
