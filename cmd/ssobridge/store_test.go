package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestStoreCopy copies a SQLite store with a live session, a refresh-token family and the rest
// of an installation into PostgreSQL, then refreshes on the copy: the member stays signed in.
func TestStoreCopy(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ssobridge.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := &sso.Session{ID: sso.HashToken("cookie"), Subject: "sub-1", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
		LastSeen: now, ExpiresAt: now.Add(time.Hour), Clients: []string{"portal", "events"}}
	fam := &sso.RefreshToken{Hash: sso.HashToken("rt-0"), FamilyID: "fam-1", ClientID: "portal", Subject: "sub-1",
		Scopes: []string{"openid", "offline_access"}, SessionID: sess.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	secret := []byte("the installation's subject key")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(src.CreateSession(ctx, sess))
	must(src.IssueTokens(ctx, sso.Issue{Family: fam}))
	must(src.PutSubject(ctx, &store.Subject{Subject: "sub-1", MemberKey: "M-1", Login: "alice", FirstSeen: now, LastSeen: now}))
	must(src.PutConsent(ctx, &store.Consent{Subject: "sub-1", ClientID: "portal", Scopes: []string{"openid"}, GrantedAt: now}))
	must(src.CreateClient(ctx, &sso.StoredClient{ID: "dyn", Config: []byte(`{"id":"dyn"}`), CreatedAt: now, UpdatedAt: now}))
	must(src.AddSigningKey(ctx, &sso.StoredKey{ID: "k1", Algorithm: "RS256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1, 2},
		CreatedAt: now, SignUntil: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}))
	_, err = src.EnsureSecret(ctx, "subject_key", secret)
	must(err)
	must(src.Enqueue(ctx, &store.OutboxEvent{ID: "ev-1", Key: "scim|portal|sub-1", Type: "user.created", Channel: "scim",
		ClientID: "portal", Subject: "sub-1", Payload: []byte(`{}`)}))
	audit := &store.AuditEvent{Event: "login.success", Subject: "sub-1", Time: now}
	must(src.Audit(ctx, audit))
	srcVersion, err := src.ClientsVersion(ctx)
	must(err)
	must(src.Close())

	out, err := run(t, "store", "copy", "--from", "sqlite://"+path, "--to", dsn)
	if err != nil || !strings.Contains(out, "copied") {
		t.Fatalf("store copy: %v\n%s", err, out)
	}
	for _, want := range []string{"sessions   ", "families", "session_clients", "secrets", "outbox"} {
		if !strings.Contains(out, strings.TrimSpace(want)) {
			t.Fatalf("store copy output names no %s:\n%s", want, out)
		}
	}

	dst, err := postgres.Open(ctx, dsn)
	must(err)
	defer dst.Close()
	got, err := dst.Session(ctx, sess.ID)
	must(err)
	if got.Subject != "sub-1" || strings.Join(got.Clients, ",") != "portal,events" || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("copied session: %+v", got)
	}
	// The refresh token issued on SQLite rotates on PostgreSQL.
	must(dst.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: fam.FamilyID, Generation: 0, OldHash: fam.Hash,
		NewHash: sso.HashToken("rt-1"), Now: time.Now()}}))
	f, err := dst.Family(ctx, fam.FamilyID)
	must(err)
	if f.Generation != 1 || f.SessionID != sess.ID || f.Revoked {
		t.Fatalf("family after a refresh on the copy: %+v", f)
	}
	if s, err := dst.EnsureSecret(ctx, "subject_key", []byte("another")); err != nil || string(s) != string(secret) {
		t.Fatalf("copied secret: %q %v", s, err)
	}
	if c, err := dst.Consent(ctx, "sub-1", "portal"); err != nil || c.Scopes[0] != "openid" {
		t.Fatalf("copied consent: %+v %v", c, err)
	}
	if s, err := dst.SubjectByMemberKey(ctx, "M-1"); err != nil || s.Subject != "sub-1" {
		t.Fatalf("copied subject: %+v %v", s, err)
	}
	if v, err := dst.ClientsVersion(ctx); err != nil || v != srcVersion {
		t.Fatalf("clients version %d %v, want %d", v, err, srcVersion)
	}
	if k, err := dst.SigningKeys(ctx); err != nil || len(k) != 1 || k[0].ID != "k1" {
		t.Fatalf("copied keys: %v %v", k, err)
	}
	if evs, err := dst.ClaimEvents(ctx, store.Claim{Now: time.Now(), Lease: time.Minute}); err != nil || len(evs) != 1 || evs[0].ID != "ev-1" {
		t.Fatalf("copied outbox: %v %v", evs, err)
	}
	// New rows after the copy do not collide with copied ids (the sequences moved on).
	next := &store.AuditEvent{Event: "login.success", Subject: "sub-1"}
	must(dst.Audit(ctx, next))
	if next.ID <= audit.ID {
		t.Fatalf("audit id after the copy %d, copied %d", next.ID, audit.ID)
	}
	must(dst.Enqueue(ctx, &store.OutboxEvent{ID: "ev-2", Key: "k", Type: "user.updated", Channel: "scim"}))

	// A second copy onto the now non-empty target is refused, unless --force.
	if out, err := run(t, "store", "copy", "--from", path, "--to", dsn); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("copy onto a non-empty store: %v\n%s", err, out)
	}
	if out, err := run(t, "store", "copy", "--from", path, "--to", dsn, "--force"); err != nil {
		t.Fatalf("copy --force: %v\n%s", err, out)
	}
	f, err = dst.Family(ctx, fam.FamilyID)
	must(err)
	if f.Generation != 0 {
		t.Fatalf("after copy --force the family is at generation %d, want the source's 0", f.Generation)
	}
	if _, err := run(t, "store", "copy", "--from", filepath.Join(t.TempDir(), "missing.db"), "--to", dsn); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("copy from a missing file: %v", err)
	}
	if _, err := run(t, "store", "copy", "--from", "mysql://x", "--to", dsn); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("copy from a non-SQLite URL: %v", err)
	}
}

// TestStoreMigrate migrates the configured store, SQLite by default and PostgreSQL by
// store.type, and prints its version.
func TestStoreMigrate(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "store", "migrate", "--data-dir="+dir)
	if err != nil || !strings.Contains(out, "store sqlite: schema version ") {
		t.Fatalf("store migrate (sqlite): %v\n%s", err, out)
	}
	dsn := pgtest.NewDatabase(t)
	t.Setenv("SSOBRIDGE_TEST_STORE_DSN", dsn)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("store:\n  type: postgres\n  dsn: ${SSOBRIDGE_TEST_STORE_DSN}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "store", "migrate", "--config", cfg, "--data-dir="+dir)
	if err != nil || !strings.Contains(out, "store postgres: schema version ") {
		t.Fatalf("store migrate (postgres): %v\n%s", err, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), " "+strconv.Itoa(postgres.Version())) {
		t.Fatalf("store migrate printed %q, want version %d", out, postgres.Version())
	}
	// store copy without --to takes the configured PostgreSQL store.
	src, err := sqlite.Open(context.Background(), filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if out, err := run(t, "store", "copy", "--config", cfg, "--data-dir="+dir, "--from", filepath.Join(dir, "ssobridge.db")); err != nil {
		t.Fatalf("store copy to the configured store: %v\n%s", err, out)
	}
}
