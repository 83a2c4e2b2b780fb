package sso_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// TestKeyManagerOpenSSLThatCannotSign: a libcrypto that opens but cannot sign (here: a
// configuration asking for FIPS algorithms with no FIPS provider, read by libcrypto from
// OPENSSL_CONF when it starts, so in a process of its own) fails the self-test with the RS256
// key: NewKeyManager fails under RequireOpenSSL (keys.rsa_signer: openssl), and otherwise signs
// with crypto/rsa and says so (OpenSSLSigns false). With libcrypto's default configuration the
// same key manager signs through it.
func TestKeyManagerOpenSSLThatCannotSign(t *testing.T) {
	if os.Getenv("SSOB_OPENSSL_CHILD") != "" {
		keyManagerOpenSSLChild(t)
		return
	}
	lib := sso.OpenSSLForTest(t)
	m, err := sso.NewKeyManager(context.Background(), &memKeys{}, sso.KeyConfig{EncryptionKey: make([]byte, 32),
		OpenSSL: lib, RequireOpenSSL: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil || !m.OpenSSLSigns() {
		t.Fatalf("default configuration: %v, OpenSSL signs %v", err, m != nil && m.OpenSSLSigns())
	}
	conf, err := filepath.Abs("testdata/openssl-fips-without-provider.cnf")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyManagerOpenSSLThatCannotSign$", "-test.v")
	cmd.Env = append(os.Environ(), "SSOB_OPENSSL_CHILD=1", "OPENSSL_CONF="+conf)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: refused as required; crypto/rsa otherwise") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func keyManagerOpenSSLChild(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	cfg := sso.KeyConfig{EncryptionKey: make([]byte, 32), OpenSSL: lib, RequireOpenSSL: true, Logger: slog.New(slog.DiscardHandler)}
	if _, err := sso.NewKeyManager(context.Background(), &memKeys{}, cfg); err == nil ||
		!strings.Contains(err.Error(), "OpenSSL cannot sign with the RS256 key") {
		t.Fatalf("RequireOpenSSL with a libcrypto that cannot sign: %v", err)
	}
	cfg.RequireOpenSSL = false
	m, err := sso.NewKeyManager(context.Background(), &memKeys{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.OpenSSLSigns() {
		t.Fatal("OpenSSLSigns with a libcrypto that cannot sign")
	}
	t.Log("child: refused as required; crypto/rsa otherwise")
}

// libcryptoRefusedKey stores an RS256 key that Go signs with and libcrypto refuses (six primes:
// OpenSSL 3 signs with at most five, "OpenSSL error 0x1c880004"), made by "another replica",
// signing from created for 30 days; it returns its id.
func libcryptoRefusedKey(t *testing.T, st *memKeys, kek []byte, created time.Time) (string, *rsa.PublicKey) {
	t.Helper()
	priv, err := rsa.GenerateMultiPrimeKey(rand.Reader, 6, 2048) //nolint:staticcheck // the point: a key libcrypto refuses
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	kid := "six-primes-" + strconv.FormatInt(created.UnixNano(), 36)
	enc, err := sso.SealKeyForTest(kek, der, kid)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	st.keys = append(st.keys, &sso.StoredKey{ID: kid, Algorithm: "RS256", PublicJWK: pub, PrivateEnc: enc,
		CreatedAt: created, SignUntil: created.Add(30 * 24 * time.Hour), ExpiresAt: created.Add(31 * 24 * time.Hour)})
	return kid, &priv.PublicKey
}

// TestKeyManagerOpenSSLLaterKey (review s25 W-1): an RS256 key that comes after start-up
// (another replica's, read by Reload or by the lease holder's Rotate) is self-tested with
// libcrypto when it is loaded, not at its first signature, and when libcrypto refuses it:
//   - keys.rsa_signer: openssl (RequireOpenSSL): it does not sign here, the key signing before
//     it goes on signing through OpenSSL, an error says so; once the older key's turn is over
//     RS256 signing fails rather than crypto/rsa signing in "openssl" mode;
//   - auto: crypto/rsa signs with it, a warning says so at once, and OpenSSLSigns says false
//     as soon as the key signs.
//
// In every case the key is published (another replica may sign with it). It failed before the
// fix: the key was tested only at its first signature and signed with crypto/rsa in both modes,
// with OpenSSLSigns still true.
func TestKeyManagerOpenSSLLaterKey(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	for _, c := range []struct {
		name    string
		require bool
		load    func(*sso.KeyManager, context.Context) error
	}{
		{"openssl/reload", true, (*sso.KeyManager).Reload},
		{"openssl/rotate", true, (*sso.KeyManager).Rotate},
		{"auto/reload", false, (*sso.KeyManager).Reload},
		{"auto/rotate", false, (*sso.KeyManager).Rotate},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := &memKeys{}
			kek := make([]byte, 32)
			var logs bytes.Buffer
			m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: kek, OpenSSL: lib, RequireOpenSSL: c.require,
				RotateEvery: 30 * 24 * time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil || !m.OpenSSLSigns() {
				t.Fatalf("start-up: %v, OpenSSL signs %v", err, m != nil && m.OpenSSLSigns())
			}
			first, _ := m.SigningKey("RS256")
			now := time.Now().Add(time.Hour)
			sso.SetKeyClock(m, func() time.Time { return now })
			// Another replica made a key that signs from a minute ago (a withdrawal's successor):
			// newer than the first, so it is the one that signs unless refused.
			kid, pub := libcryptoRefusedKey(t, st, kek, now.Add(-time.Minute))
			if err := c.load(m, ctx); err != nil {
				t.Fatal(err)
			}
			jwks, _ := m.JWKS()
			if !strings.Contains(string(jwks), kid) {
				t.Fatalf("the refused key is not published: %s", jwks)
			}
			// The self-test ran at load: its outcome is in the log before anything signed.
			want := "level=WARN msg=\"keys: OpenSSL refused an RSA signing key; crypto/rsa signs with it\" kid=" + kid
			if c.require {
				want = "level=ERROR msg=\"keys: OpenSSL cannot sign with an RS256 key, so it does not sign here"
			}
			if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "kid="+kid) {
				t.Fatalf("log after %s, want %q and kid %s:\n%s", c.name, want, kid, logs.String())
			}
			k, err := m.SigningKey("RS256")
			if err != nil {
				t.Fatal(err)
			}
			logout := sso.LogoutToken{Issuer: "https://idp.example", Audience: "app", Subject: "alice"}
			if c.require {
				if k.ID() != first.ID() || !m.OpenSSLSigns() {
					t.Fatalf("openssl: signing key %s (want the one before, %s), OpenSSL signs %v", k.ID(), first.ID(), m.OpenSSLSigns())
				}
				// Its turn alone (the key before stopped signing): nothing signs RS256 here.
				now = now.Add(31 * 24 * time.Hour).Add(-2 * time.Minute)
				if k, err := m.SigningKey("RS256"); err == nil {
					t.Fatalf("openssl: key %s signs when only the refused key's turn is left", k.ID())
				}
				if _, err := m.SignLogoutToken("RS256", logout); err == nil {
					t.Fatal("openssl: a logout token was signed with the refused key")
				}
				if m.OpenSSLSigns() {
					t.Fatal("openssl: OpenSSLSigns with no key OpenSSL signs with")
				}
				return
			}
			if k.ID() != kid || m.OpenSSLSigns() {
				t.Fatalf("auto: signing key %s (want %s), OpenSSL signs %v", k.ID(), kid, m.OpenSSLSigns())
			}
			tok, err := m.SignLogoutToken("RS256", logout)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parsed.Verify(pub); err != nil {
				t.Fatalf("auto: the logout token does not verify with the key: %v", err)
			}
			if n := strings.Count(logs.String(), "kid="+kid); n != 1 {
				t.Fatalf("auto: %d log lines about the key, want the one warning:\n%s", n, logs.String())
			}
		})
	}
}
