package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestStoreRekeyCLI (review s12 W6): `store rekey` moves a store from the data dir's generated
// key-encryption key to the one the configuration names: the signing keys and secrets then
// open with the new key only. Without the old key, or with a wrong one, it refuses and
// changes nothing.
func TestStoreRekeyCLI(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := run(t, "keys", "list", "--data-dir="+dir); err != nil { // the store and its generated key
		t.Fatal(err)
	}
	oldFile := filepath.Join(dir, "signing-key-encryption.key")
	raw, err := os.ReadFile(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKEK, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	newKEK := identity.RandomBytes(32)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: oldKEK}); err != nil {
		t.Fatal(err)
	}
	secret, err := identity.OpenSecret(ctx, st, oldKEK, "subject-hmac")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dir+"\nkeys:\n  encryption_key: "+base64.StdEncoding.EncodeToString(newKEK)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong.key")
	if err := os.WriteFile(wrongFile, []byte(base64.StdEncoding.EncodeToString(identity.RandomBytes(32))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{}, {"--old-key-file", wrongFile}, {"--old-key-env", "SSOBRIDGE_TEST_NO_SUCH_VARIABLE"}} {
		if out, err := run(t, append([]string{"store", "rekey", "--config", cfg}, args...)...); err == nil {
			t.Fatalf("store rekey %v succeeded: %s", args, out)
		}
	}
	if _, err := identity.OpenSecret(ctx, st, oldKEK, "subject-hmac"); err != nil {
		t.Fatalf("a refused rekey changed the store: %v", err)
	}

	out, err := run(t, "store", "rekey", "--config", cfg, "--old-key-file", oldFile)
	if err != nil || !strings.Contains(out, "re-sealed ") {
		t.Fatalf("store rekey: %v\n%s", err, out)
	}
	if _, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: newKEK}); err != nil {
		t.Fatalf("the signing keys with the new key: %v", err)
	}
	if got, err := identity.OpenSecret(ctx, st, newKEK, "subject-hmac"); err != nil || string(got) != string(secret) {
		t.Fatalf("the secret with the new key: %v", err)
	}
	if _, err := identity.OpenSecret(ctx, st, oldKEK, "subject-hmac"); err == nil {
		t.Fatal("the old key still opens the secret")
	}
	// The configured (new) key is what the CLI uses from now on.
	if out, err := run(t, "keys", "list", "--config", cfg); err != nil || !strings.Contains(out, "signing now") {
		t.Fatalf("keys list with the new key: %v\n%s", err, out)
	}
}
