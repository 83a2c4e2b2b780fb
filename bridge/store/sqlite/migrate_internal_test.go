package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestMigrateTokenFamilies opens a database created with schema version 9 (a row per refresh and
// access token), holding tokens, and checks that version 10 keeps every live refresh token valid
// as a family at generation 0 (found by its hash, revocable by family and by subject), drops the
// rotated, revoked and expired ones, and that Purge removes the expired families.
func TestMigrateTokenFamilies(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v9.db")
	db, exec := openAtVersion(t, path, 9)
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
		familyQuery,
		`SELECT ` + familyCols + ` FROM ` + familyFrom + ` WHERE f.family_id = (SELECT family_id FROM legacy_refresh_tokens WHERE hash = ?) AND f.expires_at > ?`,
		rotateQuery,
		familyStateQuery,
		revokeFamilyQuery,
		`UPDATE families SET revoked = 1
			WHERE family_id IN (SELECT g.family_id FROM family_grants g WHERE g.subject = ?) AND revoked = 0`,
		`UPDATE families SET revoked = 1
			WHERE family_id IN (SELECT g.family_id FROM family_grants g WHERE g.subject = ? AND g.client_id = ?) AND revoked = 0`,
		`SELECT COUNT(*) FROM ` + familyFrom + ` WHERE g.subject = ? AND f.revoked = 0 AND f.token_hash <> '' AND f.expires_at > ?`,
		`SELECT ` + familyCols + ` FROM ` + familyFrom + ` WHERE f.revoked = 0 AND f.token_hash <> '' AND f.expires_at > ?
			AND g.subject = ? ORDER BY g.created_at, f.family_id`,
		`SELECT family_id FROM families WHERE family_id > ? AND expires_at <= ? ORDER BY family_id LIMIT ?`,
		`DELETE FROM family_grants WHERE family_id = ?`,
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
			if (strings.HasPrefix(d, "SCAN families") || strings.HasPrefix(d, "SCAN f ") || d == "SCAN f" ||
				strings.HasPrefix(d, "SCAN family_grants") || strings.HasPrefix(d, "SCAN g")) && !strings.Contains(d, "USING") ||
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

// openAtVersion creates a database at path with the schema of version v and returns it
// (the caller fills it, closes it and opens it with Open to apply the later migrations).
func openAtVersion(t *testing.T, path string, v int) (*sql.DB, func(q string, args ...any)) {
	t.Helper()
	ctx := t.Context()
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for i := 1; i <= v; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i-1]); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		if f := goMigrations[i]; f != nil {
			if err := f(ctx, tx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, i); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return db, exec
}

// TestMigrateSignInPages opens a database of schema version 15 holding live and ended sessions
// with their clients, a pending sign-in request, a completed one with an unused code, and audit
// rows, and checks that version 16 (fewer pages per sign-in) keeps all of it working: nobody is
// signed out, the session's apps keep their order, the pending request completes and its code
// is found, the waiting code is exchanged once, audit rows keep their
// ids and filters, and Purge still removes what ended or expired.
func TestMigrateSignInPages(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v15.db")
	db, exec := openAtVersion(t, path, 15)
	now := time.Now().Truncate(time.Second)
	exp := ts(now.Add(time.Hour))
	session := `INSERT INTO sessions (id, subject, auth_time, amr, created_at, last_seen, expires_at, ended)
		VALUES (?, ?, ?, '["pwd"]', ?, ?, ?, ?)`
	exec(session, "s-alice", "alice", ts(now), ts(now), ts(now), exp, 0)
	exec(session, "s-bob", "bob", ts(now), ts(now), ts(now), exp, 1)
	exec(session, "s-old", "carol", ts(now), ts(now), ts(now), ts(now.Add(-time.Minute)), 0)
	for _, sc := range [][2]string{{"s-bob", "app"}, {"s-alice", "zeta"}, {"s-alice", "app"}, {"s-old", "app"}} {
		exec(`INSERT INTO session_clients (session_id, client_id) VALUES (?, ?)`, sc[0], sc[1])
	}
	exec(`INSERT INTO auth_requests (id, client_id, redirect_uri, scopes, response_type, created_at, expires_at, browser)
		VALUES ('pending', 'app', 'https://app/cb', '["openid"]', 'code', ?, ?, 'b1')`, ts(now), exp)
	exec(`INSERT INTO auth_requests (id, client_id, redirect_uri, scopes, response_type, created_at, expires_at, done,
		subject, auth_time, amr, session_id, code_hash, code_expires, browser)
		VALUES ('coded', 'app', 'https://app/cb', '["openid"]', 'code', ?, ?, 1, 'alice', ?, '["pwd"]', 's-alice', 'c1', ?, 'b2')`,
		ts(now), exp, ts(now), ts(now.Add(time.Minute)))
	exec(`INSERT INTO auth_requests (id, client_id, created_at, expires_at) VALUES ('expired', 'app', ?, ?)`,
		ts(now.Add(-time.Hour)), ts(now.Add(-time.Minute)))
	audit := `INSERT INTO audit_log (time, event, subject, client_id) VALUES (?, ?, ?, ?)`
	exec(audit, ts(now), "login.success", "alice", "app")
	exec(audit, ts(now), "mfa.reset", "alice", "")
	exec(audit, ts(now), "login.success", "bob", "zeta")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, WithClock(func() time.Time { return now }))
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	// Sessions: alice still signed in, her apps in sign-in order; a new app goes last, a known
	// one keeps its place.
	got, err := s.Session(ctx, "s-alice")
	if err != nil || !reflect.DeepEqual(got.Clients, []string{"zeta", "app"}) {
		t.Fatalf("Session(s-alice) = %+v, %v", got, err)
	}
	for _, c := range []string{"third", "zeta"} {
		if err := s.AddSessionClient(ctx, "s-alice", c, now); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Session(ctx, "s-alice"); err != nil || !reflect.DeepEqual(got.Clients, []string{"zeta", "app", "third"}) {
		t.Fatalf("Session(s-alice) after AddSessionClient = %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "s-bob"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("ended session: %v", err)
	}
	// The waiting code: found with its live session, exchanged once.
	ar, live, err := s.CodeRequest(ctx, "coded")
	if err != nil || ar.CodeHash != "c1" || !live || ar.CodeConsumed {
		t.Fatalf("CodeRequest(coded) = %+v, %v, %v", ar, live, err)
	}
	fam := &sso.RefreshToken{Hash: "r1", FamilyID: "coded", ClientID: "app", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: "c1", ConsumeCodeRequest: "coded", Family: fam}); err != nil {
		t.Fatalf("exchanging the waiting code: %v", err)
	}
	if err := s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: "c1", ConsumeCodeRequest: "coded"}); err == nil {
		t.Fatal("the waiting code was exchanged twice")
	}
	// The pending request: bound to b1, completes with a code.
	if _, err := s.AuthRequest(ctx, "pending"); err != nil {
		t.Fatal(err)
	}
	err = s.CompleteSignIn(ctx, &store.SignIn{
		Session:   &sso.Session{ID: "s-new", Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)},
		RequestID: "pending", RequestClient: "app", CodeHash: "c2", CodeExpires: now.Add(time.Minute),
		Completion: sso.Completion{Subject: "alice", AuthTime: now, SessionID: "s-new", Browser: "b1"},
	})
	if err != nil {
		t.Fatalf("completing the pending request: %v", err)
	}
	if ar, err := s.AuthRequestByCode(ctx, "c2"); err != nil || ar.ID != "pending" || !ar.Done {
		t.Fatalf("AuthRequestByCode(c2) = %+v, %v", ar, err)
	}
	// Audit rows keep their ids; new ones follow; the filters find them.
	evs, err := s.AuditEvents(ctx, store.AuditFilter{})
	if err != nil || len(evs) != 3 || evs[0].ID != 3 || evs[2].ID != 1 {
		t.Fatalf("AuditEvents = %+v, %v", evs, err)
	}
	e := &store.AuditEvent{Event: "login.success", Subject: "carol", ClientID: "app"}
	if err := s.Audit(ctx, e); err != nil || e.ID != 4 {
		t.Fatalf("Audit: id %d, %v; want 4", e.ID, err)
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want []int64
	}{
		{store.AuditFilter{Event: "mfa.reset"}, []int64{2}},
		{store.AuditFilter{Event: "login.success"}, []int64{4, 3, 1}},
		{store.AuditFilter{Event: "login.success", ClientID: "app"}, []int64{4, 1}},
		{store.AuditFilter{Subject: "alice"}, []int64{2, 1}},
	} {
		evs, err := s.AuditEvents(ctx, tc.f)
		var ids []int64
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if err != nil || !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("AuditEvents(%+v) = %v, %v; want %v", tc.f, ids, err, tc.want)
		}
	}
	var seqRows int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_sequence WHERE name IN ('audit_log', 'session_clients')`).Scan(&seqRows); err != nil || seqRows != 0 {
		t.Fatalf("sqlite_sequence rows for audit_log and session_clients: %d, %v", seqRows, err)
	}
	var fkErrors int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&fkErrors); err != nil || fkErrors != 0 {
		t.Fatalf("foreign key check: %d %v", fkErrors, err)
	}
	// Purge: the ended and the expired sessions go with their clients, the expired request goes.
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		if err := s.r.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM sessions WHERE id IN ('s-bob', 's-old')`); n != 0 {
		t.Fatalf("%d ended or expired sessions left after Purge", n)
	}
	if n := count(`SELECT COUNT(*) FROM session_clients WHERE session_id IN ('s-bob', 's-old')`); n != 0 {
		t.Fatalf("%d clients of purged sessions left", n)
	}
	if n := count(`SELECT COUNT(*) FROM auth_requests`); n != 2 {
		t.Fatalf("%d auth requests after Purge, want 2 (pending, coded)", n)
	}
	if n := count(`SELECT COUNT(*) FROM sessions`); n != 2 {
		t.Fatalf("%d sessions after Purge, want 2", n)
	}
}

// TestSignInQueryPlans checks that the sign-in's lookups use the (partial) indexes left after
// version 16 instead of scanning a table.
func TestSignInQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	for _, c := range []struct{ q, want string }{
		{`SELECT id FROM audit_log WHERE 1 = 1 AND event = ? AND event <> 'login.success' ORDER BY time DESC, id DESC LIMIT ?`, "audit_log_event"},
		{`SELECT id FROM audit_log WHERE 1 = 1 AND event = ? ORDER BY time DESC, id DESC LIMIT ?`, "audit_log_time"},
		{`SELECT id FROM audit_log WHERE 1 = 1 AND subject = ? ORDER BY time DESC, id DESC LIMIT ?`, "audit_log_subject"},
		{`SELECT id FROM audit_log WHERE 1 = 1 AND client_id = ? ORDER BY time DESC, id DESC LIMIT ?`, "audit_log_client"},
		{`SELECT id FROM sessions WHERE subject = ? AND ended = 0 AND expires_at > ?`, "sessions_subject"},
	} {
		plan := queryPlan(t, s, c.q)
		if !strings.Contains(plan, c.want) {
			t.Errorf("%s\nplan %q does not use %s", c.q, plan, c.want)
		}
	}
}

// TestCodeQueryPlans: a login's statements on auth_requests, its code's included, find their
// request by its primary key (version 30 dropped the index of code hashes: a code is found by
// its request), and none scans the table. It fails if a statement finds a code by its hash
// again, or if the index comes back.
func TestCodeQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	for _, q := range []string{
		authRequestQuery, codeRequestQuery, consumeCodeQuery, codeStateQuery, completeAuthRequestQuery,
		completeWithCodeQuery, claimAuthRequestQuery,
		`UPDATE auth_requests SET code_hash = ?, code_expires = ?, code_consumed = 0
			WHERE id = ? AND done = 1 AND (code_hash IS NULL OR code_hash = '') AND expires_at > ?`, // saveCode
		`UPDATE auth_requests SET browser = ? WHERE id = ? AND done = 0 AND browser = '' AND expires_at > ?`, // bindAuthRequest
	} {
		plan := queryPlan(t, s, q)
		if strings.Contains(plan, "SCAN auth_requests") || !strings.Contains(plan, "SEARCH auth_requests USING PRIMARY KEY (id=?)") {
			t.Errorf("%s\nplan %q: want auth_requests searched by its primary key", q, plan)
		}
	}
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'auth_requests'
		AND name NOT LIKE 'sqlite_autoindex_%' AND name <> 'auth_requests_unexchanged'`).Scan(&n); err != nil || n != 0 {
		// auth_requests_unexchanged (version 33) is the one kept: about two pages per sign-in,
		// against RevokeGrants reading the whole table under the one writer.
		t.Errorf("auth_requests has %d indexes besides its key and auth_requests_unexchanged (%v), want 0: each is a page more per sign-in", n, err)
	}
}

func queryPlan(t *testing.T, s *Store, q string) string {
	t.Helper()
	args := make([]any, strings.Count(q, "?"))
	for i := range args {
		args[i] = "x"
	}
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestMigrateSAMLNameIDFormat: version 17 moves the NameID format a waiting SAML sign-in asked
// for from a "t." prefix of its id to a column. A database at version 16 holding a transient
// request ("t." id) and another is opened: the first has the transient format and keeps its id
// (its browser carries it), the other has none, and both complete.
func TestMigrateSAMLNameIDFormat(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v16.db")
	db, exec := openAtVersion(t, path, 16)
	now := time.Now().Truncate(time.Second)
	for _, id := range []string{"t.waiting-transient", "waiting-own"} {
		exec(`INSERT INTO saml_requests (id, sp, request_id, acs_url, acs_binding, acs_index, relay_state, force_authn,
			is_passive, browser, done, created_at, expires_at) VALUES (?, 'https://sp.example/', 'id-1', 'https://sp.example/acs',
			'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 0, '', 0, 0, '', 0, ?, ?)`, id, ts(now), ts(now.Add(time.Hour)))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path, WithClock(func() time.Time { return now }))
	for id, want := range map[string]string{"t.waiting-transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "waiting-own": ""} {
		got, err := s.SAMLRequest(ctx, id)
		if err != nil || got.NameIDFormat != want || got.ID != id {
			t.Fatalf("SAMLRequest(%s) after the upgrade = %+v, %v; want the format %q", id, got, err, want)
		}
		if err := s.BindSAMLRequest(ctx, id, "b"); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteSAMLRequest(ctx, id, "b"); err != nil {
			t.Fatal(err)
		}
	}
}

// familySplitVersion is the schema version that splits a family's compare-and-set state
// (families) from its grant (family_grants).
const familySplitVersion = 22

// TestMigrateFamilySplit opens a database of the schema before familySplitVersion (one 14-column
// row per family), holding families in every state, and checks that every one is carried over
// as it was: the live ones are found, rotate (and detect reuse), list and revoke by subject and
// by client; the revoked one stays revoked; Purge removes the expired one with its grant.
func TestMigrateFamilySplit(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v21.db")
	db, exec := openAtVersion(t, path, familySplitVersion-1)
	now := time.Now().Truncate(time.Second).UTC()
	exp := ts(now.Add(time.Hour))
	insert := `INSERT INTO families (family_id, token_hash, generation, client_id, subject, audience, scopes,
		session_id, auth_time, amr, created_at, expires_at, rotated_at, revoked)
		VALUES (?, ?, ?, ?, ?, '["app"]', '["openid","offline_access"]', 'sess', ?, '["pwd"]', ?, ?, ?, ?)`
	// f1 of alice at app, rotated twice; f2 of alice at other; f3 of bob at app; f4 of bob
	// expired; f5 of carol revoked; f6 of dave at gone (a client deleted below), at generation
	// 0 with a legacy hash.
	exec(insert, "f1", "h1c", 2, "app", "alice", ts(now.Add(-time.Hour)), ts(now.Add(-time.Hour)), exp, ts(now.Add(-time.Minute)), 0)
	exec(insert, "f2", "h2", 0, "other", "alice", ts(now), ts(now.Add(-2*time.Minute)), exp, 0, 0)
	exec(insert, "f3", "h3", 0, "app", "bob", ts(now), ts(now), exp, 0, 0)
	exec(insert, "f4", "h4", 0, "app", "bob", ts(now), ts(now), ts(now.Add(-time.Minute)), 0, 0)
	exec(insert, "f5", "h5", 3, "app", "carol", ts(now), ts(now), exp, ts(now), 1)
	exec(insert, "f6", "h6", 0, "gone", "dave", ts(now), ts(now), exp, 0, 0)
	exec(`INSERT INTO legacy_refresh_tokens (hash, family_id, expires_at) VALUES ('h6', 'f6', ?)`, exp)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, WithClock(func() time.Time { return now }))
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	want := &sso.RefreshToken{Hash: "h1c", Generation: 2, FamilyID: "f1", ClientID: "app", Subject: "alice",
		Audience: []string{"app"}, Scopes: []string{"openid", "offline_access"}, SessionID: "sess",
		AuthTime: now.Add(-time.Hour), AMR: []string{"pwd"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: tm(exp),
		RotatedAt: now.Add(-time.Minute)}
	if f, err := s.Family(ctx, "f1"); err != nil || !reflect.DeepEqual(f, want) {
		t.Fatalf("Family(f1) after migration = %+v, %v; want %+v", f, err, want)
	}
	if f, err := s.Family(ctx, "f5"); err != nil || !f.Revoked || f.Generation != 3 || f.Subject != "carol" {
		t.Fatalf("Family(f5) after migration = %+v, %v; want carol's, revoked", f, err)
	}
	if _, err := s.Family(ctx, "f4"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Family(f4), expired: %v; want ErrNotFound", err)
	}
	if f, err := s.LegacyRefreshToken(ctx, "h6"); err != nil || f.FamilyID != "f6" || f.ClientID != "gone" {
		t.Fatalf("LegacyRefreshToken(h6) after migration = %+v, %v", f, err)
	}
	list, err := s.ListRefreshTokens(ctx, "alice", "")
	if err != nil || len(list) != 2 || list[0].FamilyID != "f1" || list[1].FamilyID != "f2" {
		t.Fatalf("ListRefreshTokens(alice) = %+v, %v; want f1 then f2", list, err)
	}
	// The migrated family rotates from where it was, and its rotated token's reuse is caught.
	rot := func(old, new string, gen int64) error {
		return s.IssueTokens(ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: "f1", Generation: gen, OldHash: old, NewHash: new, Now: now}})
	}
	if err := rot("h1c", "h1d", 2); err != nil {
		t.Fatalf("rotating a migrated family: %v", err)
	}
	if f, err := s.Family(ctx, "f1"); err != nil || f.Generation != 3 || f.Hash != "h1d" || f.Subject != "alice" {
		t.Fatalf("Family(f1) after rotation = %+v, %v", f, err)
	}
	if err := rot("h1c", "h1x", 2); !errors.Is(err, sso.ErrRefreshReused) {
		t.Fatalf("reusing f1's rotated token: %v; want ErrRefreshReused", err)
	}
	if f, err := s.Family(ctx, "f1"); err != nil || !f.Revoked {
		t.Fatalf("Family(f1) after reuse = %+v, %v; want revoked", f, err)
	}
	// Revocation by subject and client, and by client (DeleteClient).
	if n, err := s.RevokeGrants(ctx, "bob", "app"); err != nil || n != 1 {
		t.Fatalf("RevokeGrants(bob, app) = %d, %v; want 1", n, err)
	}
	if f, err := s.Family(ctx, "f3"); err != nil || !f.Revoked {
		t.Fatalf("Family(f3) after RevokeGrants = %+v, %v; want revoked", f, err)
	}
	if err := s.DeleteClient(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if f, err := s.Family(ctx, "f6"); err != nil || !f.Revoked {
		t.Fatalf("Family(f6) after DeleteClient = %+v, %v; want revoked", f, err)
	}
	if f, err := s.Family(ctx, "f2"); err != nil || f.Revoked {
		t.Fatalf("Family(f2) = %+v, %v; want live", f, err)
	}
	// Purge removes the expired family's state and grant, and nothing else.
	if _, err := s.Purge(ctx, now); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"families", "family_grants"} {
		var n, f4 int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE family_id = 'f4') FROM `+tbl).Scan(&n, &f4); err != nil || n != 5 || f4 != 0 {
			t.Fatalf("%s after Purge: %d rows (%d of f4), %v; want 5 (0)", tbl, n, f4, err)
		}
	}
}
