package sso_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
