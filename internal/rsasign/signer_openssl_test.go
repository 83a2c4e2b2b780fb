//go:build cgo && linux

package rsasign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"
)

// TestSignerAfterAFailure (review s26 R1-1): when libcrypto fails a signature (here: its check
// with the public half, made to fail as in TestSignRefusesAWrongSignature), the key is never
// handed to crypto/rsa for good. Required (keys.rsa_signer: openssl): that signature is an
// error, crypto/rsa never signs, and libcrypto is tried again for the next one. Auto:
// crypto/rsa signs that one and the others until the back-off has run, then libcrypto is tried
// again and, once it signs, OpenSSL() says so again. Before session 26 G the first failure
// made crypto/rsa sign every later signature in both modes.
func TestSignerAfterAFailure(t *testing.T) {
	l := open(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	for _, required := range []bool{true, false} {
		var failures []time.Duration
		var recovered int64
		s, err := l.NewSigner(priv, SignerOptions{Required: required,
			OnFailure: func(_ error, _ int64, backoff time.Duration) { failures = append(failures, backoff) },
			OnRecover: func(n int64) { recovered = n }})
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Now()
		s.opts.Now = func() time.Time { return clock }
		lk := s.key.(*Key)
		good := lk.pub
		lk.pub = other.PublicKey // libcrypto's signatures now fail Key.Sign's check
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		switch {
		case required && err == nil:
			t.Fatalf("required: a signature libcrypto failed was made anyway (by crypto/rsa)")
		case !required && err != nil:
			t.Fatalf("auto: %v", err)
		case !required:
			if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d[:], sig); err != nil {
				t.Fatalf("auto: crypto/rsa's signature: %v", err)
			}
		}
		if len(failures) != 1 {
			t.Fatalf("required %v: %d failures told, want 1", required, len(failures))
		}
		if s.OpenSSL() != required {
			t.Errorf("required %v: OpenSSL() %v after the failure", required, s.OpenSSL())
		}
		lk.pub = good // libcrypto signs again (the failure was transient)
		if !required {
			// Within the back-off crypto/rsa signs: libcrypto is not asked, OpenSSL() is false.
			if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil || s.OpenSSL() || recovered != 0 {
				t.Fatalf("auto, within the back-off: %v, OpenSSL %v, recovered %d", err, s.OpenSSL(), recovered)
			}
			clock = clock.Add(failures[0])
		}
		sig, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("required %v: the signature after the failure: %v", required, err)
		}
		if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d[:], sig); err != nil {
			t.Fatal(err)
		}
		if !s.OpenSSL() || recovered != 1 {
			t.Errorf("required %v: libcrypto not signing again: OpenSSL %v, recovery told after %d failures", required, s.OpenSSL(), recovered)
		}
	}
}

// TestRetryBackoff: one minute after the first failure in a row, doubling, at most 64 minutes.
func TestRetryBackoff(t *testing.T) {
	for n, want := range map[int64]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 7: 64 * time.Minute, 50: 64 * time.Minute} {
		if got := RetryBackoff(n); got != want {
			t.Errorf("RetryBackoff(%d) = %v, want %v", n, got, want)
		}
	}
}
