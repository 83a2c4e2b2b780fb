package sso_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// sixPrimes makes RSA keys libcrypto refuses (OpenSSL 3 signs with at most five primes).
func sixPrimes(random io.Reader, bits int) (*rsa.PrivateKey, error) {
	return rsa.GenerateMultiPrimeKey(random, 6, bits) //nolint:staticcheck // the point: a key libcrypto refuses
}

// TestRetireSuccessorRefusedByOpenSSL (review s26 R1-4, session 27 S): under keys.rsa_signer:
// openssl, when this process's libcrypto refuses the successor a withdrawal makes, Retire
// answers ErrSuccessorRefused and changes nothing: the key is not withdrawn and still signs,
// no successor is stored. Before, the key was withdrawn, Retire reported the refused successor
// as the key that signs, and no RS256 key signed here. Under auto the withdrawal goes ahead
// (crypto/rsa signs with the successor).
func TestRetireSuccessorRefusedByOpenSSL(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	for _, c := range []struct {
		name    string
		require bool
	}{
		{"openssl", true},
		{"auto", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := &memKeys{}
			m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: make([]byte, 32), OpenSSL: lib,
				RequireOpenSSL: c.require, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			old, err := m.SigningKey("RS256")
			if err != nil {
				t.Fatal(err)
			}
			sso.SetRSAKeyGenerator(m, sixPrimes)
			succ, err := m.Retire(ctx, old.ID())
			if !c.require {
				if err != nil || succ == nil || !succ.Signing {
					t.Fatalf("auto: Retire: %v, successor %+v", err, succ)
				}
				if k, err := m.SigningKey("RS256"); err != nil || k.ID() != succ.ID {
					t.Fatalf("auto: the successor does not sign: %v", err)
				}
				return
			}
			if !errors.Is(err, sso.ErrSuccessorRefused) || succ != nil {
				t.Fatalf("openssl: Retire answered %v, successor %+v; want ErrSuccessorRefused and none", err, succ)
			}
			keys, err := m.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].ID != old.ID() || !keys[0].Signing {
				t.Fatalf("openssl: the store changed: %+v (want only %s, signing)", keys, old.ID())
			}
			if k, err := m.SigningKey("RS256"); err != nil || k.ID() != old.ID() {
				t.Fatalf("openssl: RS256 no longer signs with %s: %v", old.ID(), err)
			}
		})
	}
}

// TestKeysListRefusedByOpenSSL (session 27 S, brief item 4): under keys.rsa_signer: openssl
// the listing (the admin API's and the console's) marks a key libcrypto refused here
// OpenSSLRefused, not Signing, and marks the key that signs instead (the one before it). Under
// auto the refused key signs (with crypto/rsa) and is listed as signing. Before, the refused key
// was listed as the one signing.
func TestKeysListRefusedByOpenSSL(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	for _, c := range []struct {
		name    string
		require bool
	}{
		{"openssl", true},
		{"auto", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := &memKeys{}
			kek := make([]byte, 32)
			m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: kek, OpenSSL: lib, RequireOpenSSL: c.require,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			first, _ := m.SigningKey("RS256")
			now := time.Now().Add(time.Hour)
			sso.SetKeyClock(m, func() time.Time { return now })
			kid, _ := libcryptoRefusedKey(t, st, kek, now.Add(-time.Minute))
			if err := m.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			keys, err := m.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			signs, _ := m.SigningKey("RS256")
			wantSigning := map[string]bool{first.ID(): c.require, kid: !c.require}
			for _, k := range keys {
				if k.Signing != wantSigning[k.ID] {
					t.Errorf("%s: key %s listed Signing %v (the key that signs here is %s)", c.name, k.ID, k.Signing, signs.ID())
				}
				if want := c.require && k.ID == kid; k.OpenSSLRefused != want {
					t.Errorf("%s: key %s listed OpenSSLRefused %v, want %v", c.name, k.ID, k.OpenSSLRefused, want)
				}
			}
			if len(keys) != 2 {
				t.Fatalf("%d keys listed, want 2: %+v", len(keys), keys)
			}
		})
	}
}
