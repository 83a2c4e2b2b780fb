package saml

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestKeyRingRetireSuccessorRefused (review s26 R1-4 for SAML, session 27 S): under
// keys.rsa_signer: openssl, when libcrypto refuses the successor a withdrawal makes, Retire
// answers sso.ErrSuccessorRefused and nothing changes: the key is still in the metadata and
// signs, no successor is stored. Before, the key was withdrawn and the refused successor
// reported as the key that signs, while every SAML signature here failed. Under auto the
// withdrawal goes ahead (crypto/rsa signs with the successor).
func TestKeyRingRetireSuccessorRefused(t *testing.T) {
	lib := openSSL(t)
	for _, required := range []bool{true, false} {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ring, err := NewKeyRingWithOpenSSL(t.Context(), st, bytes.Repeat([]byte{7}, 32), config.SAMLConfig{}, "sso.example.org",
			slog.New(slog.DiscardHandler), nil, lib, required)
		if err != nil {
			t.Fatal(err)
		}
		cur, _, err := ring.Signing()
		if err != nil {
			t.Fatal(err)
		}
		ring.genRSA = func(random io.Reader, bits int) (*rsa.PrivateKey, error) {
			return rsa.GenerateMultiPrimeKey(random, 6, bits) //nolint:staticcheck // the point: a key libcrypto refuses
		}
		succ, err := ring.Retire(t.Context(), cur.id)
		if !required {
			if err != nil || succ == nil {
				t.Fatalf("auto: Retire: %v, successor %+v", err, succ)
			}
			continue
		}
		if !errors.Is(err, sso.ErrSuccessorRefused) || succ != nil {
			t.Fatalf("openssl: Retire answered %v, successor %+v; want sso.ErrSuccessorRefused and none", err, succ)
		}
		keys, err := ring.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].ID != cur.id || !keys[0].Signing || keys[0].OpenSSLRefused {
			t.Fatalf("openssl: the store changed: %+v (want only %s, signing)", keys, cur.id)
		}
		if err := ring.OpenSSLSigns(); err != nil {
			t.Fatalf("openssl: the key does not sign through libcrypto any more: %v", err)
		}
	}
}

// TestKeyRingListsRefusedKey (session 27 S, brief item 4): the SAML key listing (the admin
// API's and the console's) marks a key that libcrypto refused here under keys.rsa_signer:
// openssl (OpenSSLRefused), and no other. Before, nothing said so.
func TestKeyRingListsRefusedKey(t *testing.T) {
	lib := openSSL(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ring, err := NewKeyRingWithOpenSSL(t.Context(), st, bytes.Repeat([]byte{7}, 32), config.SAMLConfig{}, "sso.example.org",
		slog.New(slog.DiscardHandler), nil, lib, true)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	ring.mu.Lock()
	c := *ring.keys[0]
	c.rsa = refusedSigner{pub: &c.private.PublicKey, err: errors.New("saml keys: OpenSSL refused the key (simulated)")}
	ring.keys[0] = &c
	ring.mu.Unlock()
	keys, err := ring.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != cur.id || !keys[0].OpenSSLRefused {
		t.Fatalf("listing %+v, want %s marked OpenSSLRefused", keys, cur.id)
	}
}
