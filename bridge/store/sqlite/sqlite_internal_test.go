package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ssobridge.db")
	s := openTest(t, path)
	ctx := t.Context()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %o, want 600", perm)
	}
	if _, err := s.EnsureSecret(ctx, "x", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file: %v", err)
	} else if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("WAL file mode = %o, want 600", perm)
	}

	for _, c := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"},
		{"busy_timeout", "5000"},
	} {
		for name, db := range map[string]queryer{"write": s.w, "read": s.r} {
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", name, c.pragma, err)
			}
			if got != c.want {
				t.Errorf("%s pool: PRAGMA %s = %s, want %s", name, c.pragma, got, c.want)
			}
		}
	}
	// The read pool cannot write.
	if _, err := s.r.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ('r', x'00', 0)`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

// TestPageCacheBounded: every connection of a file database has a bounded page cache (the
// write connection writeCacheKiB, each read connection readCacheKiB), not SQLite's default of
// 2000 KiB per connection, which made the resident set grow with the database in a long
// sign-in run.
func TestPageCacheBounded(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "cache.db"))
	check := func(name string, c *sql.Conn, want int) {
		t.Helper()
		var got int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA cache_size: %v", name, err)
		}
		if got != -want {
			t.Errorf("%s: cache_size = %d, want %d (KiB)", name, got, -want)
		}
	}
	w, err := s.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("write connection", w, writeCacheKiB)
	w.Close()
	// Hold as many read connections as the pool opens, so each one is checked.
	var conns []*sql.Conn
	for i := range defaultReadConns() {
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		check(fmt.Sprintf("read connection %d", i), c, readCacheKiB)
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestReadPoolSize: one read connection per processor, at least two (a single processor does
// not need four: each costs SQLite memory outside the Go heap).
func TestReadPoolSize(t *testing.T) {
	for _, procs := range []int{1, 2, 3} {
		prev := runtime.GOMAXPROCS(procs)
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "r.db"))
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.r.Stats().MaxOpenConnections, max(2, procs); got != want {
			t.Errorf("GOMAXPROCS=%d: read pool of %d connections, want %d", procs, got, want)
		}
		s.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, p := range []string{"", "file:x.db", "x.db?mode=ro", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := Open(ctx, p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var n, max int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) || max != len(migrations) {
		t.Fatalf("schema_migrations: %d rows, max %d; want %d", n, max, len(migrations))
	}
	if _, err := s.EnsureSecret(ctx, "keep", []byte("me")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopening applies nothing and keeps the data.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.EnsureSecret(ctx, "keep", []byte("other")); err != nil || string(v) != "me" {
		t.Fatalf("secret after reopen = %q, %v", v, err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("schema_migrations after reopen: %d rows, %v", n, err)
	}
	// A database from a newer binary is refused.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open accepted a database with an unknown schema version")
	}
}

// TestClock checks that expiry follows the injected clock.
func TestClock(t *testing.T) {
	var now atomic.Int64
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	now.Store(base.UnixNano())
	s := openTest(t, Memory, WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	ctx := t.Context()
	advance := func(d time.Duration) { now.Add(int64(d)) }

	r := &sso.AuthRequest{ID: "ar", ClientID: "c", ExpiresAt: base.Add(time.Minute)}
	if err := s.CreateAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AuthRequest(ctx, "ar"); err != nil || !got.CreatedAt.Equal(base) {
		t.Fatalf("AuthRequest = %v, %v; want CreatedAt from the clock", got, err)
	}
	a := &sso.RefreshToken{FamilyID: "at", ClientID: "c", ExpiresAt: base.Add(2 * time.Minute)}
	if err := s.IssueTokens(ctx, sso.Issue{Family: a}); err != nil {
		t.Fatal(err)
	}
	sess := &sso.Session{ID: "s", Subject: "u", ExpiresAt: base.Add(3 * time.Minute)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	advance(time.Minute)
	if _, err := s.AuthRequest(ctx, "ar"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("AuthRequest after expiry: %v", err)
	}
	if _, err := s.Family(ctx, "at"); err != nil {
		t.Fatalf("Family before expiry: %v", err)
	}
	advance(time.Minute)
	if _, err := s.Family(ctx, "at"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Family after expiry: %v", err)
	}
	if _, err := s.Session(ctx, "s"); err != nil {
		t.Fatalf("Session before expiry: %v", err)
	}
	advance(time.Minute)
	if _, err := s.Session(ctx, "s"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Session after expiry: %v", err)
	}
	e := &store.AuditEvent{Event: "x"}
	if err := s.Audit(ctx, e); err != nil || !e.Time.Equal(base.Add(3*time.Minute)) {
		t.Fatalf("Audit time = %v, %v; want the clock's", e.Time, err)
	}
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// TestTwoProcesses opens the same file twice (as the server and an admin command would) and
// writes from both at once: the write lock is taken at BEGIN and waited for, never SQLITE_BUSY.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := openTest(t, path), openTest(t, path)
	ctx := t.Context()
	now := ssotest.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				rt := &sso.RefreshToken{Hash: fmt.Sprint(w, "-", i), FamilyID: fmt.Sprint("f", w, "-", i), ClientID: "c",
					Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				err := s.IssueTokens(ctx, sso.Issue{Family: rt})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writer: %v", err)
	}
	l, err := b.ListRefreshTokens(ctx, "u", "")
	if err != nil || len(l) != 400 {
		t.Fatalf("ListRefreshTokens = %d, %v; want 400", len(l), err)
	}
	// A client change made by one process is seen by the other's version counter.
	v1, _ := a.ClientsVersion(ctx)
	if err := b.CreateClient(ctx, &sso.StoredClient{ID: "x", Config: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if v2, _ := a.ClientsVersion(ctx); v2 == v1 {
		t.Fatal("ClientsVersion did not change across processes")
	}
}

func TestPurgeManyBatches(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := t.Context()
	now := time.Now()
	const n = 2*purgeBatch + 17
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i := range n {
			exp := now.Add(-time.Minute)
			if i%10 == 0 {
				exp = now.Add(time.Hour)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO families (family_id, expires_at)
				VALUES (?, ?)`, fmt.Sprintf("%08d", i), ts(exp)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO family_grants (family_id, client_id, created_at)
				VALUES (?, 'c', 0)`, fmt.Sprintf("%08d", i)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, subject, created_at, expires_at)
				VALUES (?, 'u', 0, ?)`, fmt.Sprintf("%08d", i), ts(exp)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO auth_requests (id, client_id, created_at, expires_at)
				VALUES (?, 'c', 0, ?)`, fmt.Sprintf("%08d", i), ts(exp)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	expired := int64(n - (n+9)/10)
	got, err := s.Purge(ctx, now)
	if err != nil || got != 3*expired {
		t.Fatalf("Purge = %d, %v; want %d", got, err, 3*expired)
	}
	var left int
	for _, tbl := range []string{"families", "family_grants", "sessions", "auth_requests"} {
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tbl).Scan(&left); err != nil || left != (n+9)/10 {
			t.Fatalf("%s left = %d, %v", tbl, left, err)
		}
	}
}

func TestListEncoding(t *testing.T) {
	for _, l := range [][]string{
		nil, {""}, {"", ""}, {"a"}, {"openid", "profile"}, {`a","b`}, {`"`}, {`\`}, {`a\"`}, {"ü", "日本"},
		{"x<y>&z"}, {"tab\there", "nl\n"}, {"[", "]"}, {`","`}, {`"a"`, `b"`},
	} {
		enc := encList(l)
		got, err := decList(enc)
		if err != nil {
			t.Fatalf("decList(%q): %v", enc, err)
		}
		if !slices.Equal(got, l) || (len(l) == 0) != (got == nil) {
			t.Fatalf("round trip of %q via %q = %q", l, enc, got)
		}
	}
}

func FuzzListEncoding(f *testing.F) {
	f.Add("a", "b", "")
	f.Add(`","`, `\`, `"`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		l := []string{a, b, c}
		got, err := decList(encList(l))
		if err != nil {
			t.Fatal(err)
		}
		// JSON replaces invalid UTF-8; only valid strings must round-trip exactly.
		for i := range l {
			if !utf8.ValidString(l[i]) {
				return
			}
		}
		if !slices.Equal(got, l) {
			t.Fatalf("round trip of %q = %q", l, got)
		}
	})
}

func TestConsentScopesNormalized(t *testing.T) {
	s := openTest(t, Memory)
	ctx := t.Context()
	if err := s.PutConsent(ctx, &store.Consent{Subject: "u", ClientID: "c", Scopes: []string{"profile", "openid", "profile"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Consent(ctx, "u", "c")
	if err != nil || !slices.Equal(c.Scopes, []string{"openid", "profile"}) {
		t.Fatalf("Consent = %+v, %v", c, err)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.Context(), Memory)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Family(t.Context(), "x"); err == nil {
		t.Fatal("a closed store answered")
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("a closed store pinged")
	}
}

func TestErrorsWrapped(t *testing.T) {
	s := openTest(t, Memory)
	_, err := s.Family(t.Context(), "nope")
	if !errors.Is(err, sso.ErrNotFound) || err.Error() != "sqlite: family: sso store: not found" {
		t.Fatalf("error = %q", err)
	}
}

// TestIdleWALTruncated: after a burst of writes the WAL is copied back and, once nothing writes
// for a checkpoint interval, truncated, so the database on disk is the main file alone. Before,
// the spent WAL stayed on disk up to journal_size_limit (64 MiB) until the next write.
func TestIdleWALTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssobridge.db")
	s, err := Open(t.Context(), path, WithCheckpointInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range 200 {
		if _, err := s.EnsureSecret(t.Context(), fmt.Sprintf("k%d", i), make([]byte, 2000)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes after the writes stopped", fi.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The data is all in the main file, and the store keeps working after the truncation.
	if _, err := s.EnsureSecret(t.Context(), "after", []byte("x")); err != nil {
		t.Fatal(err)
	}
	got, err := s.EnsureSecret(t.Context(), "k199", []byte("other"))
	if err != nil || len(got) != 2000 {
		t.Fatalf("k199 after truncation: %d bytes, %v", len(got), err)
	}
}
