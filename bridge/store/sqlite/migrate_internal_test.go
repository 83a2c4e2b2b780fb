package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TestMigrateTokenFamilies opens a database created with schema version 4 (token tables with
// family and subject indexes, no token_families), holding tokens, and checks that version 5
// keeps them readable and revocable by family and by subject.
func TestMigrateTokenFamilies(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
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
	for v := 1; v <= 4; v++ {
		exec(migrations[v-1])
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, v)
	}
	now := time.Now().Truncate(time.Second)
	exp := ts(now.Add(time.Hour))
	refresh := `INSERT INTO refresh_tokens (hash, family_id, client_id, subject, audience, scopes, session_id,
		auth_time, amr, created_at, expires_at, rotated_at, successor_hash, revoked)
		VALUES (?, ?, ?, ?, '["app"]', '["openid","offline_access"]', 'sess', ?, '["pwd"]', ?, ?, ?, ?, 0)`
	access := `INSERT INTO access_tokens (id_hash, client_id, subject, audience, scopes, family_id, session_id,
		auth_time, amr, created_at, expires_at, revoked)
		VALUES (?, ?, ?, '["app"]', '["openid"]', ?, 'sess', ?, '["pwd"]', ?, ?, 0)`
	// Family f1 of alice at app (rotated once), f2 of alice at other, f3 of bob at app; an
	// access token without a family; an expired family f4 of bob.
	exec(refresh, "r1a", "f1", "app", "alice", ts(now), ts(now), exp, ts(now), "r1b")
	exec(refresh, "r1b", "f1", "app", "alice", ts(now), ts(now), exp, 0, "")
	exec(refresh, "r2", "f2", "other", "alice", ts(now), ts(now), exp, 0, "")
	exec(refresh, "r3", "f3", "app", "bob", ts(now), ts(now), exp, 0, "")
	exec(refresh, "r4", "f4", "app", "bob", ts(now), ts(now), ts(now.Add(-time.Minute)), 0, "")
	exec(access, "a1", "app", "alice", "f1", ts(now), ts(now), exp)
	exec(access, "a2", "other", "alice", "f2", ts(now), ts(now), exp)
	exec(access, "a3", "app", "bob", "f3", ts(now), ts(now), exp)
	exec(access, "a0", "app", "bob", "", ts(now), ts(now), exp)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, WithClock(func() time.Time { return now }))
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	rt, err := s.RefreshToken(ctx, "r1a")
	if err != nil {
		t.Fatal(err)
	}
	want := &sso.RefreshToken{Hash: "r1a", FamilyID: "f1", ClientID: "app", Subject: "alice", Audience: []string{"app"},
		Scopes: []string{"openid", "offline_access"}, SessionID: "sess", AuthTime: now.UTC(), AMR: []string{"pwd"},
		CreatedAt: now.UTC(), ExpiresAt: tm(exp), RotatedAt: now.UTC(), SuccessorHash: "r1b"}
	if !rt.AuthTime.Equal(want.AuthTime) || rt.Hash != want.Hash || rt.FamilyID != want.FamilyID || rt.Subject != want.Subject ||
		rt.SuccessorHash != want.SuccessorHash || !rt.RotatedAt.Equal(want.RotatedAt) || strings.Join(rt.Scopes, " ") != "openid offline_access" {
		t.Fatalf("RefreshToken after migration = %+v, want %+v", rt, want)
	}
	if at, err := s.AccessToken(ctx, "a0"); err != nil || at.Subject != "bob" || at.FamilyID != "" {
		t.Fatalf("AccessToken a0 = %+v, %v", at, err)
	}
	list, err := s.ListRefreshTokens(ctx, "alice", "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListRefreshTokens(alice) = %d tokens, %v; want 2", len(list), err)
	}

	// Family revocation reaches the migrated tokens.
	if err := s.RevokeFamily(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"r1a", "r1b"} {
		if rt, err := s.RefreshToken(ctx, h); err != nil || !rt.Revoked {
			t.Fatalf("RefreshToken(%s) after RevokeFamily = %+v, %v; want revoked", h, rt, err)
		}
	}
	if _, err := s.AccessToken(ctx, "a1"); !errors.Is(err, sso.ErrTokenRevoked) {
		t.Fatalf("AccessToken(a1) after RevokeFamily: %v, want ErrTokenRevoked", err)
	}
	if rt, err := s.RefreshToken(ctx, "r2"); err != nil || rt.Revoked {
		t.Fatalf("RefreshToken(r2) = %+v, %v; want live", rt, err)
	}
	// Revocation by subject too, including the access token without a family.
	n, err := s.RevokeGrants(ctx, "bob", "")
	if err != nil || n != 1 {
		t.Fatalf("RevokeGrants(bob) = %d, %v; want 1", n, err)
	}
	if _, err := s.AccessToken(ctx, "a0"); !errors.Is(err, sso.ErrTokenRevoked) {
		t.Fatalf("AccessToken(a0) after RevokeGrants: %v, want ErrTokenRevoked", err)
	}
	if _, err := s.AccessToken(ctx, "a2"); err != nil {
		t.Fatalf("AccessToken(a2): %v", err)
	}

	// Purge drops the expired family's token and its bookkeeping row.
	families := func() int {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM token_families`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := families(); got != 4 {
		t.Fatalf("token_families has %d rows after migration, want 4", got)
	}
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := families(); got != 3 {
		t.Fatalf("token_families has %d rows after Purge, want 3", got)
	}
}

// TestTokenQueryPlans checks that the token queries that must stay cheap search an index (or
// the primary key) rather than scanning a token table.
func TestTokenQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	ctx := t.Context()
	for _, q := range []string{
		`SELECT ` + refreshTokenCols + ` FROM refresh_tokens WHERE hash = ? AND expires_at > ?`,
		`SELECT ` + accessTokenCols + ` FROM access_tokens WHERE id_hash = ? AND expires_at > ?`,
		`SELECT subject, client_id FROM token_families WHERE family_id = ?`,
		`UPDATE refresh_tokens SET revoked = 1 WHERE subject = ? AND client_id = ? AND family_id = ? AND revoked = 0`,
		`UPDATE access_tokens SET revoked = 1 WHERE subject = ? AND client_id = ? AND family_id = ? AND revoked = 0`,
		`UPDATE refresh_tokens SET revoked = 1 WHERE subject = ? AND revoked = 0`,
		`UPDATE access_tokens SET revoked = 1 WHERE subject = ? AND client_id = ? AND revoked = 0`,
		`SELECT COUNT(DISTINCT family_id) FROM refresh_tokens WHERE subject = ? AND revoked = 0 AND expires_at > ?`,
		`SELECT ` + refreshTokenCols + ` FROM refresh_tokens WHERE revoked = 0 AND rotated_at = 0 AND expires_at > ?
			AND subject = ? ORDER BY created_at, hash`,
		`SELECT hash FROM refresh_tokens WHERE hash > ? AND expires_at <= ? ORDER BY hash LIMIT ?`,
		`SELECT 1 FROM token_families f WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r
			WHERE r.subject = f.subject AND r.client_id = f.client_id AND r.family_id = f.family_id)`,
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
			if strings.HasPrefix(d, "SCAN refresh_tokens") || strings.HasPrefix(d, "SCAN access_tokens") ||
				strings.HasPrefix(d, "SCAN r") && !strings.Contains(d, "USING") {
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
	if at, err := s.AccessToken(ctx, "a1"); err != nil || at.SessionID != sso.HashToken("raw-session-1") {
		t.Fatalf("access token: %+v %v", at, err)
	}
	if rt, err := s.RefreshToken(ctx, "r1"); err != nil || rt.SessionID != sso.HashToken("raw-session-2") {
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
