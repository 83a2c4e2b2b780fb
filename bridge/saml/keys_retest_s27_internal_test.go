package saml

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/internal/rsasign"
)

// TestKeyRingRetestsARefusedKey (session 27 S, brief item 3): under keys.rsa_signer: openssl a
// SAML key that libcrypto refused when it was opened is tested again at each Reload (and
// Rotate), as the OIDC keys are: once the self-test passes it signs through libcrypto (an info
// line), where before it signed nothing until a restart. A key libcrypto still refuses (six
// primes) stays refused, and its error is not logged again at each Reload.
func TestKeyRingRetestsARefusedKey(t *testing.T) {
	lib := openSSL(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek := bytes.Repeat([]byte{7}, 32)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ring, err := NewKeyRingWithOpenSSL(t.Context(), st, kek, config.SAMLConfig{}, "sso.example.org", log, nil, lib, true)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	// The six-prime key signs after the current one: libcrypto refuses it when it is opened.
	priv6, err := rsa.GenerateMultiPrimeKey(rand.Reader, 6, 2048) //nolint:staticcheck // the point: a key libcrypto refuses
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(6), NotBefore: now.Add(-time.Hour), NotAfter: cur.signUntil.Add(60 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv6.PublicKey, priv6)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealKey(kek, x509.MarshalPKCS1PrivateKey(priv6), "k6")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddSAMLSuccessor(t.Context(), &store.SAMLKey{ID: "k6", CertDER: der, PrivateEnc: sealed, CreatedAt: cur.signUntil,
		SignUntil: cur.signUntil.Add(30 * 24 * time.Hour), ExpiresAt: cur.signUntil.Add(40 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := ring.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The current key was refused when it was opened (a transient refusal, say): it signs
	// nothing.
	ring.mu.Lock()
	for i, key := range ring.keys {
		if key.id == cur.id {
			c := *key
			c.rsa = refusedSigner{pub: &c.private.PublicKey, err: errors.New("saml keys: OpenSSL refused the key (simulated)")}
			c.signer = newSigner(c.rsa, c.cert)
			ring.keys[i] = &c
		}
	}
	ring.mu.Unlock()
	if err := ring.OpenSSLSigns(); err == nil {
		t.Fatal("the refused key signs")
	}
	logs.Reset()
	for range 2 {
		if err := ring.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := ring.OpenSSLSigns(); err != nil {
		t.Fatalf("after a Reload libcrypto still does not sign with the key it refused once: %v", err)
	}
	key, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := key.cryptoSigner().(*rsasign.Signer)
	if !ok || key.id != cur.id {
		t.Fatalf("the key %s signs with %T", key.id, key.cryptoSigner())
	}
	d := sha256.Sum256([]byte("x"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&key.private.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "saml keys: OpenSSL signs with the SAML key it refused before"); n != 1 {
		t.Errorf("%d info lines for the key that signs again, want 1:\n%s", n, logs.String())
	}
	// k6 is tested again at each Reload, and still refused; its error was logged once, when
	// it was opened, not at each Reload.
	ring.mu.RLock()
	defer ring.mu.RUnlock()
	for _, key := range ring.keys {
		if _, refused := key.rsa.(refusedSigner); key.id == "k6" && !refused {
			t.Errorf("k6 signs with %T", key.rsa)
		}
	}
	if strings.Contains(logs.String(), "k6") {
		t.Errorf("the reloads logged of k6:\n%s", logs.String())
	}
}
