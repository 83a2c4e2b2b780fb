package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestKeysRotateNow (review s12 W6): an operator who suspects a signing key (a leaked backup
// and KEK, a host compromise) can withdraw it now: a command makes a new key sign at once and
// takes the suspect one out of JWKS (the tokens it signed stop verifying: the point).
func TestKeysRotateNow(t *testing.T) {
	for _, args := range [][]string{{"keys", "list", "--help"}, {"keys", "retire", "--help"}} {
		if _, err := run(t, args...); err != nil {
			t.Errorf("ssobridge %v: %v", args, err)
		}
	}
}

// TestKeysRetireCLI: `keys list` shows the key that signs; `keys retire KID` withdraws it, names
// its successor, leaves it out of the next list and out of the store's published keys, and is
// audited; retiring it again, or an unknown kid, fails.
func TestKeysRetireCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	ctx := context.Background()
	// The CLI creates the store and the data dir's key-encryption key; the server would then
	// make the keys: a key manager on the same store and key does.
	if out, err := run(t, "keys", "list", dd); err != nil || strings.Contains(out, "signing now") {
		t.Fatalf("keys list on an empty store: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "signing-key-encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: kek})
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.SigningKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	suspect := k.ID()

	out, err := run(t, "keys", "list", dd)
	if err != nil || !strings.Contains(out, suspect) || !strings.Contains(out, "signing now") || !strings.Contains(out, "RS256") {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	out, err = run(t, "keys", "retire", dd, suspect)
	if err != nil || !strings.Contains(out, "withdrawn: "+suspect) || !strings.Contains(out, "successor: ") {
		t.Fatalf("keys retire: %v\n%s", err, out)
	}
	successor := strings.Fields(out[strings.Index(out, "successor: "):])[1]

	out, err = run(t, "keys", "list", dd)
	if err != nil || strings.Contains(out, suspect) || !strings.Contains(out, successor) {
		t.Fatalf("keys list after the retirement: %v\n%s", err, out)
	}
	stored, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].ID != successor {
		t.Fatalf("stored keys after the retirement: %+v, want the successor %s only", stored, successor)
	}
	// The running server's reload (its cluster subscription) drops it too.
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := m.SigningKey("RS256"); err != nil || k.ID() != successor {
		t.Fatalf("the server's key manager signs with %v (%v) after reloading, want %s", k, err, successor)
	}
	events, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.signing_key_retired", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, suspect) || !strings.Contains(events[0].Detail, successor) {
		t.Fatalf("audit of the retirement: %v %+v", err, events)
	}

	for _, kid := range []string{suspect, "no-such-key"} {
		if out, err := run(t, "keys", "retire", dd, kid); err == nil || !strings.Contains(err.Error(), "no published signing key") {
			t.Fatalf("keys retire %s: %v\n%s", kid, err, out)
		}
	}
}
