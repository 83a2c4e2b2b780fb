package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestClaimsPreviewAudited: `claims preview` writes an admin.claims_preview audit row naming
// the operator, the client and the member, never the claims themselves.
func TestClaimsPreviewAudited(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "claims", "preview", "--data-dir="+dir, "--client", "playground", "--login", "alice",
		"--scope", "openid", "--scope", "email")
	if err != nil || !strings.Contains(out, "alice.anders@demo.example") {
		t.Fatalf("preview: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.claims_preview"})
	if err != nil || len(ev) != 1 {
		t.Fatalf("audit rows: %+v %v", ev, err)
	}
	e := ev[0]
	if e.ClientID != "playground" || e.Login != "alice" || !strings.Contains(e.Detail, "cli user") {
		t.Fatalf("audit row: %+v", e)
	}
	if strings.Contains(e.Detail, "alice.anders@demo.example") || strings.Contains(e.Detail, "Anders") {
		t.Fatalf("audit row carries claims: %+v", e)
	}
}
