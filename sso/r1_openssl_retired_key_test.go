package sso_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestR1OpenSSLKeyThatSignsNoMore (review s26 R1-3): an RS256 key whose turn to sign is over
// (published only until the tokens it signed expire) is self-tested with libcrypto at every
// load anyway. When libcrypto refuses it, keys.rsa_signer: openssl logs the error "keys: OpenSSL
// cannot sign with an RS256 key, so it does not sign here ... an older key signs until its
// sign_until", which the CHANGELOG tells operators to act on, for a key that will never sign
// again (and auto warns "crypto/rsa signs with it"). Wanted: no self-test, no error and no
// warning for a key past its sign_until. Fails on K ca0539b: the error is logged for that key.
func TestR1OpenSSLKeyThatSignsNoMore(t *testing.T) {
	lib := sso.OpenSSLForTest(t)
	for _, require := range []bool{true, false} {
		ctx := context.Background()
		st := &memKeys{}
		kek := make([]byte, 32)
		// Signed from 30 days and an hour ago until an hour ago; published for a day more.
		kid, _ := libcryptoRefusedKey(t, st, kek, time.Now().Add(-30*24*time.Hour-time.Hour))
		var logs bytes.Buffer
		m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{Algorithms: []string{"RS256"}, EncryptionKey: kek, OpenSSL: lib,
			RequireOpenSSL: require, RotateEvery: 30 * 24 * time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil || !m.OpenSSLSigns() {
			t.Fatalf("require %v: start-up: %v, OpenSSL signs %v", require, err, m != nil && m.OpenSSLSigns())
		}
		if k, _ := m.SigningKey("RS256"); k.ID() == kid {
			t.Fatalf("require %v: the key past its sign_until signs", require)
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, kid) && (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) {
				t.Errorf("require %v: a key that signs no more is reported as refused:\n%s", require, line)
			}
		}
	}
}
