package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestKeysRetireSAMLCLI: `keys list --saml` shows the SAML key that signs with its certificate's
// fingerprint; `keys retire --saml KID` withdraws it, names its successor, leaves it out of the
// next list and of the server's ring once it reloads (the metadata), and is audited
// (admin.saml_signing_key_retired); withdrawing it again, or an unknown kid, fails; an OIDC
// `keys retire` of the SAML kid does not find it.
func TestKeysRetireSAMLCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	ctx := context.Background()
	if out, err := run(t, "keys", "list", "--saml", dd); err != nil || strings.Contains(out, "signing now") {
		t.Fatalf("keys list --saml on an empty store: %v\n%s", err, out)
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
	// The server's ring: it makes the first key.
	ring, err := saml.NewKeyRing(ctx, st, kek, config.SAMLConfig{}, "sso.example.org", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ring.Keys(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("the server's keys: %+v, %v", list, err)
	}
	suspect := list[0].ID

	out, err := run(t, "keys", "list", "--saml", dd)
	if err != nil || !strings.Contains(out, suspect) || !strings.Contains(out, "signing now") || !strings.Contains(out, list[0].CertSHA256) {
		t.Fatalf("keys list --saml: %v\n%s", err, out)
	}
	if out, err := run(t, "keys", "retire", dd, suspect); err == nil || !strings.Contains(err.Error(), "no published signing key") {
		t.Fatalf("keys retire (OIDC) of a SAML kid: %v\n%s", err, out)
	}
	out, err = run(t, "keys", "retire", "--saml", dd, suspect)
	if err != nil || !strings.Contains(out, "withdrawn: SAML signing key "+suspect) || !strings.Contains(out, "successor: ") ||
		!strings.Contains(out, "read the metadata again") {
		t.Fatalf("keys retire --saml: %v\n%s", err, out)
	}
	successor := strings.Fields(out[strings.Index(out, "successor: "):])[1]

	out, err = run(t, "keys", "list", "--saml", dd)
	if err != nil || strings.Contains(out, suspect) || !strings.Contains(out, successor) || !strings.Contains(out, "signing now") {
		t.Fatalf("keys list --saml after the withdrawal: %v\n%s", err, out)
	}
	// The running server's reload (its cluster subscription) drops it too.
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := ring.Keys(ctx); err != nil || len(list) != 1 || list[0].ID != successor || !list[0].Signing {
		t.Fatalf("the server's keys after the withdrawal: %+v (%v), want the successor %s alone", list, err, successor)
	}
	events, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.saml_signing_key_retired", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, "kid="+suspect) || !strings.Contains(events[0].Detail, "successor="+successor) {
		t.Fatalf("audit of the withdrawal: %v %+v", err, events)
	}
	for _, kid := range []string{suspect, "no-such-key"} {
		if out, err := run(t, "keys", "retire", "--saml", dd, kid); err == nil || !strings.Contains(err.Error(), "no published SAML signing key") {
			t.Fatalf("keys retire --saml %s: %v\n%s", kid, err, out)
		}
	}
}
