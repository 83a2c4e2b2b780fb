package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestMigrateTokenFamilies opens a database created with schema version 9 (a row per refresh and
// access token), holding tokens, and checks that version 10 keeps every live refresh token valid
// as a family at generation 0 (found by its hash, revocable by family and by subject), drops the
// rotated, revoked and expired ones, and that Purge removes the expired families.
func TestMigrateTokenFamilies(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v9.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for v := 1; v <= 9; v++ {
		exec(migrations[v-1])
		if f := goMigrations[v]; f != nil {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := f(ctx, tx); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, v)
	}
	now := time.Now().Truncate(time.Second)
	exp := ts(now.Add(time.Hour))
	refresh := `INSERT INTO refresh_tokens (hash, family_id, client_id, subject, audience, scopes, session_id,
		auth_time, amr, created_at, expires_at, rotated_at, successor_hash, revoked)
		VALUES (?, ?, ?, ?, '["app"]', '["openid","offline_access"]', 'sess', ?, '["pwd"]', ?, ?, ?, ?, ?)`
	access := `INSERT INTO access_tokens (id_hash, client_id, subject, audience, scopes, family_id, session_id,
		auth_time, amr, created_at, expires_at, revoked)
		VALUES (?, ?, ?, '["app"]', '["openid"]', ?, 'sess', ?, '["pwd"]', ?, ?, 0)`
	// Family f1 of alice at app (rotated once: r1a -> r1b), f2 of alice at other, f3 of bob at
	// app, f4 of bob expired, f5 of carol revoked; access tokens with and without a family.
	exec(refresh, "r1a", "f1", "app", "alice", ts(now), ts(now), exp, ts(now), "r1b", 0)
	exec(refresh, "r1b", "f1", "app", "alice", ts(now), ts(now), exp, 0, "", 0)
	exec(refresh, "r2", "f2", "other", "alice", ts(now), ts(now), exp, 0, "", 0)
	exec(refresh, "r3", "f3", "app", "bob", ts(now), ts(now), exp, 0, "", 0)
	exec(refresh, "r4", "f4", "app", "bob", ts(now), ts(now), ts(now.Add(-time.Minute)), 0, "", 0)
	exec(refresh, "r5", "f5", "app", "carol", ts(now), ts(now), exp, 0, "", 1)
	exec(access, "a1", "app", "alice", "f1", ts(now), ts(now), exp)
	exec(access, "a0", "app", "bob", "", ts(now), ts(now), exp)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, WithClock(func() time.Time { return now }))
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	rt, err := s.LegacyRefreshToken(ctx, "r1b")
	if err != nil {
		t.Fatal(err)
	}
	want := &sso.RefreshToken{Hash: "r1b", FamilyID: "f1", ClientID: "app", Subject: "alice", Audience: []string{"app"},
		Scopes: []string{"openid", "offline_access"}, SessionID: "sess", AuthTime: now.UTC(), AMR: []string{"pwd"},
		CreatedAt: now.UTC(), ExpiresAt: tm(exp)}
	if !reflect.DeepEqual(rt, want) {
		t.Fatalf("LegacyRefreshToken(r1b) after migration = %+v, want %+v", rt, want)
	}
	if f, err := s.Family(ctx, "f1"); err != nil || !reflect.DeepEqual(f, want) {
		t.Fatalf("Family(f1) = %+v, %v", f, err)
	}
	for _, h := range []string{"r1a", "r4", "r5"} { // rotated, expired, revoked
		if _, err := s.LegacyRefreshToken(ctx, h); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("LegacyRefreshToken(%s): %v, want ErrNotFound", h, err)
		}
	}
	list, err := s.ListRefreshTokens(ctx, "alice", "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListRefreshTokens(alice) = %d families, %v; want 2", len(list), err)
	}
	// The migrated family rotates like any other.
	if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: "f1", OldHash: "r1b", NewHash: "n1", Now: now}}); err != nil {
		t.Fatalf("rotating a migrated family: %v", err)
	}
	if f, err := s.Family(ctx, "f1"); err != nil || f.Generation != 1 || f.Hash != "n1" {
		t.Fatalf("Family(f1) after rotation = %+v, %v", f, err)
	}
	// Revocation by family and by subject.
	if err := s.RevokeFamily(ctx, "f2"); err != nil {
		t.Fatal(err)
	}
	if rt, err := s.LegacyRefreshToken(ctx, "r2"); err != nil || !rt.Revoked {
		t.Fatalf("LegacyRefreshToken(r2) after RevokeFamily = %+v, %v; want revoked", rt, err)
	}
	n, err := s.RevokeGrants(ctx, "bob", "")
	if err != nil || n != 1 {
		t.Fatalf("RevokeGrants(bob) = %d, %v; want 1", n, err)
	}
	// The old token tables are gone; Purge removes the expired family and its legacy hash.
	for _, tbl := range []string{"access_tokens", "refresh_tokens", "token_families"} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = ?`, tbl).Scan(&n); err != nil || n != 0 {
			t.Fatalf("table %s after migration: %d, %v", tbl, n, err)
		}
	}
	count := func(tbl string) int {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if f, l := count("families"), count("legacy_refresh_tokens"); f != 4 || l != 4 {
		t.Fatalf("after migration: %d families, %d legacy hashes; want 4 and 4", f, l)
	}
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatal(err)
	}
	if f, l := count("families"), count("legacy_refresh_tokens"); f != 3 || l != 3 {
		t.Fatalf("after Purge: %d families, %d legacy hashes; want 3 and 3", f, l)
	}
}

// TestTokenQueryPlans checks that the token queries that must stay cheap search an index (or
// the primary key) rather than scanning the families table.
func TestTokenQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	ctx := t.Context()
	for _, q := range []string{
		`SELECT ` + familyCols + ` FROM families WHERE family_id = ? AND expires_at > ?`,
		`SELECT ` + familyCols + ` FROM families WHERE family_id = (SELECT family_id FROM legacy_refresh_tokens WHERE hash = ?) AND expires_at > ?`,
		`UPDATE families SET generation = generation + 1, token_hash = ?, rotated_at = ?
			WHERE family_id = ? AND generation = ? AND token_hash = ? AND token_hash <> '' AND revoked = 0 AND expires_at > ?`,
		`UPDATE families SET revoked = 1 WHERE family_id = ? AND revoked = 0`,
		`UPDATE families SET revoked = 1 WHERE subject = ? AND revoked = 0`,
		`UPDATE families SET revoked = 1 WHERE subject = ? AND client_id = ? AND revoked = 0`,
		`SELECT COUNT(*) FROM families WHERE subject = ? AND revoked = 0 AND token_hash <> '' AND expires_at > ?`,
		`SELECT ` + familyCols + ` FROM families WHERE revoked = 0 AND token_hash <> '' AND expires_at > ?
			AND subject = ? ORDER BY created_at, family_id`,
		`SELECT family_id FROM families WHERE family_id > ? AND expires_at <= ? ORDER BY family_id LIMIT ?`,
		`SELECT 1 FROM revoked_access_tokens WHERE id_hash = ? AND expires_at > ?`,
	} {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = "x"
		}
		rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, d := range plan {
			if strings.HasPrefix(d, "SCAN families") && !strings.Contains(d, "USING") ||
				strings.HasPrefix(d, "SCAN legacy_refresh_tokens") || strings.HasPrefix(d, "SCAN revoked_access_tokens") {
				t.Errorf("%s\nplan: %q", q, plan)
			}
		}
		t.Logf("%q", plan)
	}
}

// TestMigrateSessionIDsHashed opens a database of schema version 8, whose session ids are the
// cookie values, and checks that version 9 stores every session (and every reference to it)
// under the SHA-256 of its id, losing nothing.
func TestMigrateSessionIDsHashed(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v8.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for v := 1; v <= 8; v++ {
		exec(migrations[v-1])
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, v)
	}
	now := time.Now().Truncate(time.Second)
	exp := ts(now.Add(time.Hour))
	for _, id := range []string{"raw-session-1", "raw-session-2"} {
		exec(`INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at) VALUES (?, 'alice', ?, '["pwd"]', ?, ?, ?)`,
			id, ts(now), ts(now), ts(now), exp)
		exec(`INSERT INTO session_clients (session_id, client_id) VALUES (?, 'app')`, id)
	}
	exec(`INSERT INTO auth_requests (id, client_id, created_at, expires_at, done, subject, session_id) VALUES ('ar', 'app', ?, ?, 1, 'alice', 'raw-session-1')`, ts(now), exp)
	exec(`INSERT INTO auth_requests (id, client_id, created_at, expires_at) VALUES ('pending', 'app', ?, ?)`, ts(now), exp)
	exec(`INSERT INTO access_tokens (id_hash, client_id, subject, family_id, session_id, created_at, expires_at) VALUES ('a1', 'app', 'alice', 'f1', 'raw-session-1', ?, ?)`, ts(now), exp)
	exec(`INSERT INTO refresh_tokens (hash, family_id, client_id, subject, session_id, created_at, expires_at) VALUES ('r1', 'f1', 'app', 'alice', 'raw-session-2', ?, ?)`, ts(now), exp)
	exec(`INSERT INTO device_authorizations (device_code_hash, user_code, client_id, created_at, expires_at, interval_ns, state, session_id) VALUES ('d1', 'BBBBCCCC', 'tv', ?, ?, 1, 'approved', 'raw-session-2')`, ts(now), exp)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, WithClock(func() time.Time { return now }))
	for _, id := range []string{"raw-session-1", "raw-session-2"} {
		if _, err := s.Session(ctx, id); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("session under its raw id: %v", err)
		}
		got, err := s.Session(ctx, sso.HashToken(id))
		if err != nil || got.Subject != "alice" || len(got.Clients) != 1 || got.Clients[0] != "app" {
			t.Fatalf("session under its hash: %+v %v", got, err)
		}
	}
	if ar, err := s.AuthRequest(ctx, "ar"); err != nil || ar.SessionID != sso.HashToken("raw-session-1") {
		t.Fatalf("auth request: %+v %v", ar, err)
	}
	if ar, err := s.AuthRequest(ctx, "pending"); err != nil || ar.SessionID != "" {
		t.Fatalf("pending auth request: %+v %v", ar, err)
	}
	if rt, err := s.LegacyRefreshToken(ctx, "r1"); err != nil || rt.SessionID != sso.HashToken("raw-session-2") {
		t.Fatalf("refresh token: %+v %v", rt, err)
	}
	var dsid string
	if err := s.r.QueryRowContext(ctx, `SELECT session_id FROM device_authorizations WHERE device_code_hash = 'd1'`).Scan(&dsid); err != nil || dsid != sso.HashToken("raw-session-2") {
		t.Fatalf("device authorization session: %q %v", dsid, err)
	}
	var fkErrors int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&fkErrors); err != nil || fkErrors != 0 {
		t.Fatalf("foreign key check: %d %v", fkErrors, err)
	}
}
