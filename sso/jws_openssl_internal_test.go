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
	"time"

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

// switchable is a libcrypto key that fails every signature while fail is set, and counts
// those it makes.
type switchable struct {
	inner interface {
		Sign(digest []byte) ([]byte, error)
	}
	fail   bool
	signed int
}

func (s *switchable) Sign(d []byte) ([]byte, error) {
	if s.fail {
		return failing{}.Sign(d)
	}
	s.signed++
	return s.inner.Sign(d)
}

// TestCompactSignerOpenSSLFailure (review s26 R1-1): when libcrypto fails to sign, the key is
// never handed to crypto/rsa for good. keys.rsa_signer: auto: crypto/rsa signs the token and
// the next ones during the back-off (one warning; signsThroughOpenSSL false), and the first
// token after it is libcrypto's again (an info line; signsThroughOpenSSL true). openssl
// (required): the token is an error, crypto/rsa never signs, one error line for the run of
// failures, and the next token tries libcrypto again. Before session 26 G the first failure
// made crypto/rsa sign every later token in both modes.
func TestCompactSignerOpenSSLFailure(t *testing.T) {
	lib := openSSL(t)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, required := range []bool{false, true} {
		var logs bytes.Buffer
		k := &signingKey{id: "kid-ossl", alg: jose.RS256, private: rk, openssl: lib, required: required,
			log: slog.New(slog.NewTextHandler(&logs, nil))}
		cs, err := k.compact()
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Now()
		cs.now = func() time.Time { return clock }
		o := cs.openssl.Load()
		sw := &switchable{inner: o.Key(), fail: true}
		cs.openssl.Store(o.WithKey(sw))
		for i := range 3 {
			tok, err := cs.appendSigned(nil, []byte(`{"sub":"a"}`))
			if required {
				if err == nil {
					t.Fatalf("openssl: token %d made although libcrypto failed (by crypto/rsa)", i)
				}
				continue
			}
			if err != nil {
				t.Fatalf("auto: token %d: %v", i, err)
			}
			parsed, err := jose.ParseSigned(string(tok), []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parsed.Verify(&rk.PublicKey); err != nil {
				t.Fatalf("auto: token %d does not verify with the signing key: %v", i, err)
			}
		}
		want := `level=WARN msg="keys: OpenSSL failed to sign; crypto/rsa signs with this key until libcrypto is tried again"`
		if required {
			want = `level=ERROR msg="keys: OpenSSL failed to sign, so the token is not signed (keys.rsa_signer: openssl)`
		}
		if n := strings.Count(logs.String(), "OpenSSL failed to sign"); n != 1 || !strings.Contains(logs.String(), want) {
			t.Fatalf("required %v: %d lines, want 1 %s:\n%s", required, n, want, logs.String())
		}
		if k.signsThroughOpenSSL() != required {
			t.Errorf("required %v: signsThroughOpenSSL %v after the failure", required, k.signsThroughOpenSSL())
		}
		sw.fail = false // the fault was transient
		if !required {
			clock = clock.Add(rsasign.RetryBackoff(1))
		}
		tok, err := cs.appendSigned(nil, []byte(`{"sub":"a"}`))
		if err != nil {
			t.Fatalf("required %v: the token after: %v", required, err)
		}
		parsed, err := jose.ParseSigned(string(tok), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsed.Verify(&rk.PublicKey); err != nil {
			t.Fatal(err)
		}
		if sw.signed != 1 || !k.signsThroughOpenSSL() || !strings.Contains(logs.String(), `msg="keys: OpenSSL signs with the key again"`) {
			t.Errorf("required %v: libcrypto not signing again: %d signatures, signsThroughOpenSSL %v, log:\n%s",
				required, sw.signed, k.signsThroughOpenSSL(), logs.String())
		}
	}
}
