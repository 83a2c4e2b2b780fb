package sso_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// memKeys is an in-memory sso.KeyStore (sso's tests never import a bridge backend).
type memKeys struct{ keys []*sso.StoredKey }

func (m *memKeys) SigningKeys(context.Context) ([]*sso.StoredKey, error) { return m.keys, nil }
func (m *memKeys) AddSigningKey(_ context.Context, k *sso.StoredKey) error {
	m.keys = append(m.keys, k)
	return nil
}
func (m *memKeys) AddSigningKeySuccessor(ctx context.Context, k *sso.StoredKey) error {
	for _, o := range m.keys {
		if o.Algorithm == k.Algorithm && o.SignUntil.After(k.CreatedAt) {
			return sso.ErrConflict
		}
	}
	return m.AddSigningKey(ctx, k)
}

func (m *memKeys) ExtendSigningKey(_ context.Context, id string, expiresAt time.Time) error {
	for i, k := range m.keys {
		if k.ID == id && time.Now().Before(k.ExpiresAt) {
			if expiresAt.After(k.ExpiresAt) {
				c := *k // those SigningKeys returned are not changed
				c.ExpiresAt = expiresAt
				m.keys[i] = &c
			}
			return nil
		}
	}
	return sso.ErrNotFound
}

func (m *memKeys) RetireSigningKey(_ context.Context, id string, successor *sso.StoredKey) error {
	now := time.Now()
	for i, k := range m.keys {
		if k.ID == id && now.Before(k.ExpiresAt) && !k.Withdrawn() {
			c := *k // those SigningKeys returned are not changed
			if now.Before(c.SignUntil) {
				c.SignUntil = now
			}
			c.ExpiresAt = c.SignUntil
			m.keys[i] = &c
			if successor != nil {
				m.keys = append(m.keys, successor)
			}
			return nil
		}
	}
	return sso.ErrNotFound
}

func TestKeyManagerRotation(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	kek := make([]byte, 32)
	cfg := sso.KeyConfig{Algorithms: []string{"RS256", "ES256", "EdDSA"}, RotateEvery: 48 * time.Hour,
		Prepublish: 24 * time.Hour, MaxTokenLifetime: time.Hour, EncryptionKey: kek}
	m, err := sso.NewKeyManager(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kid := func(alg string) string {
		k, err := m.SigningKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID()
	}
	first := map[string]string{"RS256": kid("RS256"), "ES256": kid("ES256"), "EdDSA": kid("EdDSA")}
	if len(m.PublicKeys()) != 3 {
		t.Fatalf("want 3 published keys, got %d", len(m.PublicKeys()))
	}
	// Private keys are encrypted at rest: the wrong key-encryption key fails loudly.
	bad := cfg
	bad.EncryptionKey = []byte("0123456789abcdef0123456789abcdef")
	if _, err := sso.NewKeyManager(ctx, st, bad); err == nil {
		t.Fatal("keys decrypted with the wrong key-encryption key")
	}
	stored, _ := st.SigningKeys(ctx)
	for _, k := range stored {
		if json.Valid(k.PrivateEnc) || len(k.PrivateEnc) < 32 {
			t.Fatal("private key does not look encrypted")
		}
	}

	// 25 hours later the current keys are inside the prepublish window: new keys appear in
	// JWKS, but the old ones keep signing until their sign-until.
	clock := time.Now().Add(25 * time.Hour)
	sso.SetKeyClock(m, func() time.Time { return clock })
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(m.PublicKeys()); n != 6 {
		t.Fatalf("want 6 published keys after prepublish, got %d", n)
	}
	if kid("RS256") != first["RS256"] {
		t.Fatal("the new key signs before its time")
	}
	// After the old keys stop signing, the new ones sign; the old stay published until every
	// token they signed has expired.
	clock = clock.Add(23*time.Hour + 30*time.Minute)
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if kid("RS256") == first["RS256"] {
		t.Fatal("the retiring key still signs")
	}
	jwks, _ := m.JWKS()
	var set struct{ Keys []struct{ Kid string } }
	_ = json.Unmarshal(jwks, &set)
	found := false
	for _, k := range set.Keys {
		found = found || k.Kid == first["RS256"]
	}
	if !found {
		t.Fatal("the retired key left JWKS before its tokens expired")
	}
	clock = clock.Add(2 * time.Hour)
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	jwks, _ = m.JWKS()
	set.Keys = nil
	_ = json.Unmarshal(jwks, &set)
	for _, k := range set.Keys {
		if k.Kid == first["RS256"] {
			t.Fatal("the retired key is still in JWKS after MaxTokenLifetime")
		}
	}
}

func TestAEADCrypto(t *testing.T) {
	c, err := sso.NewCrypto([32]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Encrypt("token-id:subject")
	b, _ := c.Encrypt("token-id:subject")
	if a == b {
		t.Fatal("encryption is deterministic")
	}
	if got, err := c.Decrypt(a); err != nil || got != "token-id:subject" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	other, _ := sso.NewCrypto([32]byte{9})
	for _, bad := range []string{"", "x", "a.b.c", a + "A", a[:len(a)-1], a[:8] + "\n" + a[8:], a + "\r\n"} {
		if _, err := c.Decrypt(bad); err == nil {
			t.Fatalf("decrypted %q", bad)
		}
	}
	// Every one-character change must be refused, the last character included: its low bits
	// are padding in base64 and a lenient decoder ignores them, which would let several
	// strings open to one token. (The old "tampered" input a[:len(a)-2]+"AA" was a itself
	// whenever a ended in "AA", about once in a thousand runs.)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(a) {
		for _, ch := range alphabet {
			if byte(ch) == a[i] {
				continue
			}
			bad := a[:i] + string(ch) + a[i+1:]
			if bad == a {
				t.Fatal("tampered input equals the original")
			}
			if _, err := c.Decrypt(bad); err == nil {
				t.Fatalf("decrypted %q (position %d changed)", bad, i)
			}
		}
	}
	if _, err := other.Decrypt(a); err == nil {
		t.Fatal("decrypted with another key")
	}
}

// TestAEADCryptoReusedBuffers: seals of plaintexts of every size, in any order and at once
// (the sealing buffers are pooled: a longer one is reused for a shorter plaintext and the
// reverse), each open to their own plaintext and nothing else.
func TestAEADCryptoReusedBuffers(t *testing.T) {
	c, err := sso.NewCrypto([32]byte{4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				plain := strings.Repeat(string(rune('a'+g)), (i*37+g*11)%700)
				sealed, err := c.Encrypt(plain)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := c.Decrypt(sealed); err != nil || got != plain {
					t.Errorf("len %d: opened to %d bytes, %v", len(plain), len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
