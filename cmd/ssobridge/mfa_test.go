package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestMFAResetCLI: `ssobridge mfa reset` removes a member's factors, leaves them the notice
// and writes the audit rows; it refuses a call that names nobody.
func TestMFAResetCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	ctx := context.Background()
	if _, err := run(t, "tokens", "list", dd); err != nil { // creates and migrates the store
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutTOTP(ctx, &store.TOTPFactor{Subject: "sub-1", SecretSealed: []byte("sealed"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmTOTP(ctx, "sub-1", []byte("sealed"), 1, []string{"h1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: []byte("cred"), Subject: "sub-1", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if out, err := run(t, "mfa", "reset", dd); err == nil {
		t.Fatalf("reset without a member must refuse: %s", out)
	}
	out, err := run(t, "mfa", "reset", dd, "--subject", "sub-1")
	if err != nil || !strings.Contains(out, "removed 2 second factor(s)") {
		t.Fatalf("mfa reset: %v\n%s", err, out)
	}
	st, err = sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.TOTP(ctx, "sub-1"); err == nil {
		t.Fatal("TOTP factor survived the reset")
	}
	if notice, err := st.TakeFactorResetNotice(ctx, "sub-1"); err != nil || !notice {
		t.Fatalf("no reset notice: %v %v", notice, err)
	}
	for _, ev := range []string{"mfa.reset", "admin.mfa_reset"} {
		evs, err := st.AuditEvents(ctx, store.AuditFilter{Event: ev})
		if err != nil || len(evs) != 1 || evs[0].Subject != "sub-1" {
			t.Fatalf("%s audit rows: %v %+v", ev, err, evs)
		}
	}
}
