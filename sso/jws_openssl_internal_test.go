package sso

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/internal/rsasign"
)

// openSSL returns libcrypto, or skips where this build or machine has none (CI, with its cgo
// build and Debian's libssl3, must have it).
func openSSL(t *testing.T) *rsasign.Library {
	t.Helper()
	lib, err := rsasign.Open()
	if err != nil {
		if os.Getenv("CI") == "true" && rsasign.CanOpen {
			t.Fatalf("CI must sign through OpenSSL: %v", err)
		}
		t.Skip(err)
	}
	return lib
}

// TestCompactSignerThroughOpenSSL: with KeyConfig.OpenSSL an RS256 key's ID tokens are signed
// by libcrypto, and are the very tokens jose (crypto/rsa) signs.
func TestCompactSignerThroughOpenSSL(t *testing.T) {
	lib := openSSL(t)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	k := &signingKey{id: "kid-ossl", alg: jose.RS256, private: rk, openssl: lib, log: slog.Default()}
	cs, err := k.compact()
	if err != nil {
		t.Fatal(err)
	}
	if cs.openssl.Load() == nil {
		t.Fatal("the compact signer does not sign through OpenSSL")
	}
	js, _ := k.Signer()
	for _, payload := range []string{`{}`, `{"sub":"a","name":"Zoë"}`, strings.Repeat(`{"x":"y"}`, 200)} {
		ref, err := js.Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.CompactSerialize()
		got, err := cs.appendSigned(nil, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("OpenSSL's token differs from jose's:\n%s\n%s", got, want)
		}
	}
	if cs.openssl.Load() == nil {
		t.Fatal("OpenSSL was dropped after good signatures")
	}
}

// failing is a libcrypto key whose every signature fails (rsasign's check refused it, say:
// TestSignRefusesAWrongSignature there).
type failing struct{}

func (failing) Sign([]byte) ([]byte, error) {
	return nil, errors.New("rsasign: signature does not verify")
}

// TestCompactSignerOpenSSLFailureFallsBack: when libcrypto fails to sign, crypto/rsa signs the
// token instead, the key stays with crypto/rsa from then on, and one warning says so.
func TestCompactSignerOpenSSLFailureFallsBack(t *testing.T) {
	lib := openSSL(t)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	var logs bytes.Buffer
	k := &signingKey{id: "kid-ossl", alg: jose.RS256, private: rk, openssl: lib,
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	cs, err := k.compact()
	if err != nil {
		t.Fatal(err)
	}
	cs.openssl.Store(&digestSigner{failing{}})
	for i := range 3 {
		tok, err := cs.appendSigned(nil, []byte(`{"sub":"a"}`))
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		parsed, err := jose.ParseSigned(string(tok), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsed.Verify(&rk.PublicKey); err != nil {
			t.Fatalf("token %d does not verify with the signing key: %v", i, err)
		}
	}
	if cs.openssl.Load() != nil {
		t.Fatal("a failing OpenSSL key is still used")
	}
	if n := strings.Count(logs.String(), "OpenSSL failed to sign"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
}
