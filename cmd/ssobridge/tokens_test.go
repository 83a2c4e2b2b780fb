package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestTokensAndSessionsCLI lists and revokes a member's grants and sessions from the store.
func TestTokensAndSessionsCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + dir
	ctx := context.Background()
	// Create the store (and its migrations) the way the CLI does, then seed it.
	if _, err := run(t, "tokens", "list", dd); err != nil {
		t.Fatalf("list on an empty store: %v", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, client := range []string{"portal", "events"} {
		fam := sso.RandomToken()
		err := st.IssueTokens(ctx, sso.Issue{
			Family: &sso.RefreshToken{Hash: sso.HashToken(sso.RandomToken()), FamilyID: fam, ClientID: client, Subject: "sub-1",
				Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateSession(ctx, &sso.Session{ID: "sess-1", Subject: "sub-1", AuthTime: now, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err := run(t, "tokens", "list", dd, "--subject", "sub-1")
	if err != nil || !strings.Contains(out, "portal") || !strings.Contains(out, "events") {
		t.Fatalf("tokens list: %v\n%s", err, out)
	}
	if out, err = run(t, "tokens", "revoke", dd); err == nil {
		t.Fatalf("revoke without a filter must refuse: %s", out)
	}
	out, err = run(t, "tokens", "revoke", dd, "--subject", "sub-1", "--client", "portal")
	if err != nil || !strings.Contains(out, "revoked 1 grant") {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	out, _ = run(t, "tokens", "list", dd, "--subject", "sub-1")
	if strings.Contains(out, "portal") || !strings.Contains(out, "events") {
		t.Fatalf("after revoke:\n%s", out)
	}
	// A login is resolved through the member directory (the embedded demo AMS here).
	if _, err := run(t, "tokens", "list", dd, "--login", "alice"); err != nil {
		t.Fatalf("tokens list --login: %v", err)
	}
	if _, err := run(t, "tokens", "list", dd, "--login", "nobody-at-all"); err == nil {
		t.Fatal("unknown login accepted")
	}

	out, err = run(t, "sessions", "list", dd)
	if err != nil || !strings.Contains(out, "sess-1") {
		t.Fatalf("sessions list: %v\n%s", err, out)
	}
	out, err = run(t, "sessions", "revoke", dd, "--id", "sess-1")
	if err != nil || !strings.Contains(out, "ended 1 session") {
		t.Fatalf("sessions revoke: %v\n%s", err, out)
	}
	st, err = sqlite.Open(ctx, filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.AuditEvents(ctx, store.AuditFilter{Event: "admin.tokens_revoke"})
	if err != nil || len(ev) != 1 || !strings.Contains(ev[0].Detail, "cli user") {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}
