package identity

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/ssobridge/ssobridge/sso"
)

// Installation secrets (subject HMAC key, cookie keys, the provider's crypto key, the CSRF and
// rotation keys) are stored sealed with AES-256-GCM under the key-encryption key
// (keys.encryption_key), bound to their name: a copy of the database alone opens none of them.
// A secret stored in plaintext by an earlier version is sealed in place the first time it is
// read, keeping its value (subjects, cookies and tickets stay valid).

// sealedSecretPrefix marks a sealed secret in the store.
var sealedSecretPrefix = []byte("ssobridge-sealed-secret-v1:")

// ErrSecretKey: the key-encryption key does not open the stored secrets.
var ErrSecretKey = errors.New("keys.encryption_key does not open this database's secrets (was it changed?)")

// OpenSecrets returns the named installation secrets (32 random bytes each, created on first
// use), sealed at rest under kek.
func OpenSecrets(ctx context.Context, st sso.SecretStore, kek []byte, names ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		v, err := OpenSecret(ctx, st, kek, name)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// OpenSecret returns one installation secret (see OpenSecrets).
func OpenSecret(ctx context.Context, st sso.SecretStore, kek []byte, name string) ([]byte, error) {
	return EnsureSealed(ctx, st, kek, name, func() []byte { return RandomBytes(32) })
}

// EnsureSealed returns the value stored sealed under name, storing initial() first when there
// is none yet (insert-if-absent: concurrent starts agree on one value).
func EnsureSealed(ctx context.Context, st sso.SecretStore, kek []byte, name string, initial func() []byte) ([]byte, error) {
	for range 5 {
		fresh, err := sealSecret(kek, name, initial())
		if err != nil {
			return nil, err
		}
		stored, err := st.EnsureSecret(ctx, name, fresh)
		if err != nil {
			return nil, err
		}
		if body, ok := bytes.CutPrefix(stored, sealedSecretPrefix); ok {
			return openSealedSecret(kek, name, body)
		}
		// Plaintext from an earlier version: seal it in place (compare-and-set; another process
		// may do the same at the same time, then the loop reads its result).
		sealed, err := sealSecret(kek, name, stored)
		if err != nil {
			return nil, err
		}
		switch err := st.ReplaceSecret(ctx, name, stored, sealed); {
		case err == nil:
			return stored, nil
		case !errors.Is(err, sso.ErrNotFound):
			return nil, fmt.Errorf("seal in place: %w", err)
		}
	}
	return nil, errors.New("the stored secret keeps changing")
}

func secretAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("key-encryption key: %d bytes, want 32", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealSecret(kek []byte, name string, value []byte) ([]byte, error) {
	gcm, err := secretAEAD(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(bytes.Clone(sealedSecretPrefix), nonce...)
	return gcm.Seal(out, nonce, value, []byte("ssobridge secret "+name)), nil
}

func openSealedSecret(kek []byte, name string, body []byte) ([]byte, error) {
	gcm, err := secretAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(body) < gcm.NonceSize() {
		return nil, ErrSecretKey
	}
	v, err := gcm.Open(nil, body[:gcm.NonceSize()], body[gcm.NonceSize():], []byte("ssobridge secret "+name))
	if err != nil {
		return nil, ErrSecretKey
	}
	return v, nil
}

// RandomBytes returns n bytes from crypto/rand (it panics if the system has none).
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return b
}
