package bridge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRekey (review s12 W6): keys.encryption_key can be changed: Rekey re-seals the
// installation secrets, the signing keys, the SAML keys and a member's TOTP secret, each made
// by its own code, from the old key to the new one on SQLite and PostgreSQL; each then opens
// with the new key only, with its value unchanged. A wrong old key changes nothing.
func TestRekey(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	} {
		t.Run(name, func(t *testing.T) { testRekey(t, open(t)) })
	}
}

func testRekey(t *testing.T, st store.Store) {
	ctx := t.Context()
	oldKEK, newKEK := identity.RandomBytes(32), identity.RandomBytes(32)
	quiet := slog.New(slog.DiscardHandler)
	names := []string{"subject-hmac", "cookie-mac"}
	secrets, err := identity.OpenSecrets(ctx, st, oldKEK, names...)
	if err != nil {
		t.Fatal(err)
	}
	keyCfg := func(kek []byte) sso.KeyConfig {
		return sso.KeyConfig{Algorithms: []string{"RS256", "ES256"}, EncryptionKey: kek, Logger: quiet}
	}
	keys, err := sso.NewKeyManager(ctx, st, keyCfg(oldKEK))
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := keys.SigningKey("RS256")
	samlKeys := func(kek []byte) error {
		_, err := saml.NewKeyRing(ctx, st, kek, config.SAMLConfig{}, "idp.example.org", quiet, time.Now)
		return err
	}
	if err := samlKeys(oldKEK); err != nil {
		t.Fatal(err)
	}
	factors := func(kek []byte) *mfa.Service {
		return &mfa.Service{Store: st, KEK: kek, Issuer: "Example", Now: time.Now}
	}
	enr, err := factors(oldKEK).BeginTOTP(ctx, "sub-1", "alice", "browser-1")
	if err != nil {
		t.Fatal(err)
	}

	opens := func(kek []byte) map[string]error {
		t.Helper()
		out := map[string]error{}
		got, err := identity.OpenSecrets(ctx, st, kek, names...)
		if err == nil {
			for _, n := range names {
				if !bytes.Equal(got[n], secrets[n]) {
					t.Fatalf("secret %s changed", n)
				}
			}
		}
		out["secrets"] = err
		m, err := sso.NewKeyManager(ctx, st, keyCfg(kek))
		if err == nil {
			if k, _ := m.SigningKey("RS256"); k.ID() != rs.ID() {
				t.Fatalf("the RS256 key changed: %s, want %s", k.ID(), rs.ID())
			}
		}
		out["signing keys"] = err
		out["saml keys"] = samlKeys(kek)
		p, err := factors(kek).PendingTOTP(ctx, "sub-1", "alice", "browser-1")
		if err == nil && (p == nil || p.Secret != enr.Secret) {
			t.Fatalf("the TOTP secret changed: %+v", p)
		}
		out["totp"] = err
		return out
	}
	want := func(what string, kek []byte, ok bool) {
		t.Helper()
		for part, err := range opens(kek) {
			if (err == nil) != ok {
				t.Fatalf("%s: %s open: %v, want ok %v", what, part, err, ok)
			}
		}
	}

	if _, err := bridge.Rekey(ctx, st, identity.RandomBytes(32), newKEK); err == nil {
		t.Fatal("Rekey with a wrong old key succeeded")
	}
	want("after a refused rekey, the old key", oldKEK, true)
	want("after a refused rekey, the new key", newKEK, false)

	n, err := bridge.Rekey(ctx, st, oldKEK, newKEK)
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 { // 2 secrets, 2 signing keys, a SAML key, a TOTP secret
		t.Fatalf("Rekey re-sealed %d values, want at least 6", n)
	}
	want("after the rekey, the new key", newKEK, true)
	want("after the rekey, the old key", oldKEK, false)
	if _, err := bridge.Rekey(ctx, st, oldKEK, newKEK); err == nil {
		t.Fatal("a second Rekey from the old key succeeded")
	}
}

// TestRekeyRefusalsSayWhy (end-of-session review s13 RV3-8): a rekey refused says why in its
// own words. An installation secret or a TOTP secret the old key does not open is said so
// (before: identity.ErrSecretKey's words for a server whose configured key opens nothing, "was
// it changed?"); a server running on the SQLite store is named, without serve's advice to
// run replicas on PostgreSQL.
func TestRekeyRefusalsSayWhy(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	oldKEK := identity.RandomBytes(32)
	if _, err := identity.OpenSecrets(ctx, st, oldKEK, "subject-hmac"); err != nil {
		t.Fatal(err)
	}
	_, err = bridge.Rekey(ctx, st, identity.RandomBytes(32), identity.RandomBytes(32))
	if err == nil || !strings.Contains(err.Error(), "the old key-encryption key does not open it") ||
		strings.Contains(err.Error(), "was it changed") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("rekey of a secret with a wrong old key: %v", err)
	}
	// A store that fails otherwise (here as at its commit) may or may not have changed: it is
	// not said that nothing was (before, it was).
	_, err = bridge.Rekey(ctx, commitFails{st}, oldKEK, identity.RandomBytes(32))
	if err == nil || strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "run this command again") {
		t.Errorf("rekey whose store failed: %v", err)
	}

	cfg := bridge.Defaults()
	cfg.Issuer = "http://127.0.0.1:9"
	cfg.DataDir = t.TempDir()
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(oldKEK)
	quiet := slog.New(slog.DiscardHandler)
	chk, err := cfg.Check(quiet)
	if err != nil {
		t.Fatal(err)
	}
	app, err := bridge.Open(ctx, chk, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(identity.RandomBytes(32))
	_, err = bridge.RekeyStore(ctx, cfg, oldKEK)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a server (pid %d) runs on this SQLite store", os.Getpid())) ||
		strings.Contains(err.Error(), "postgres") {
		t.Errorf("rekey while a server runs on the SQLite store: %v", err)
	}
}

// commitFails is a store whose re-seal fails after re-sealing every value, as at its commit.
type commitFails struct{ *sqlite.Store }

func (s commitFails) Reseal(ctx context.Context, reseal func(store.SealedValue) ([]byte, error)) (int, error) {
	if _, err := s.Store.Reseal(ctx, func(v store.SealedValue) ([]byte, error) { return v.Value, nil }); err != nil {
		return 0, err
	}
	return 0, errors.New("sqlite: reseal: commit: disk I/O error")
}
