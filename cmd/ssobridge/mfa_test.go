package main

import (
	"context"
	"path/filepath"
	"regexp"
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

// TestMFAInviteCLI: `ssobridge mfa invite` prints a new code each time and stores its hash
// only, and writes the audit rows without the code; it refuses a call that names nobody. (That
// a new invitation voids the member's earlier unused one is the store's rule, checked by the
// store conformance suite, testEnrolmentInviteReplaced.)
func TestMFAInviteCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	if out, err := run(t, "mfa", "invite", dd); err == nil {
		t.Fatalf("invite without a member must refuse: %s", out)
	}
	var codes []string
	for range 2 {
		out, err := run(t, "mfa", "invite", dd, "--subject", "sub-1")
		if err != nil {
			t.Fatalf("mfa invite: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`invitation code: ([a-z0-9]{5}(-[a-z0-9]{5}){3})\n`).FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "for subject:     sub-1") {
			t.Fatalf("mfa invite printed no code: %s", out)
		}
		codes = append(codes, m[1])
	}
	if codes[0] == codes[1] {
		t.Fatal("two invitations, one code")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The store has the hash, not the code: reading the code as a hash finds nothing.
	for _, c := range codes {
		if err := st.EnrolmentInviteUsable(ctx, "sub-1", c, time.Now()); err == nil {
			t.Fatal("the store keeps the code itself")
		}
	}
	for ev, n := range map[string]int{"mfa.invite_issued": 2, "admin.mfa_invite": 2} {
		evs, err := st.AuditEvents(ctx, store.AuditFilter{Event: ev})
		if err != nil || len(evs) != n {
			t.Fatalf("%s audit rows: %v %d, want %d", ev, err, len(evs), n)
		}
		for _, e := range evs {
			if e.Subject != "sub-1" || strings.Contains(e.Detail, codes[0]) || strings.Contains(e.Detail, codes[1]) {
				t.Fatalf("%s audit row: %+v", ev, e)
			}
		}
	}
}
