package sqlite

import (
	"path/filepath"
	"testing"
	"time"
)

// TestEndSubjectSessionsPastParameterLimit (final read s18 R2-2): ending every session of a
// member who holds more live sessions than SQLite takes parameters in one statement (32,766)
// ends them all. Revoking their session-bound grants with one parameter per session failed the
// whole transaction, so "Sign out everywhere" and a deactivation ended nothing.
func TestEndSubjectSessionsPastParameterLimit(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "ssobridge.db"))
	ctx := t.Context()
	const n = 33000
	now := time.Now()
	if _, err := s.w.ExecContext(ctx, `WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
		INSERT INTO sessions (id, subject, created_at, expires_at) SELECT printf('s%05d', i), 'sub-many', ?, ? FROM k`,
		n, ts(now), ts(now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	ended, err := s.EndSubjectSessions(ctx, "sub-many")
	if err != nil || len(ended) != n {
		t.Fatalf("EndSubjectSessions = %d sessions, %v; want %d, nil", len(ended), err, n)
	}
	var live int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE subject = 'sub-many' AND ended = 0`).Scan(&live); err != nil || live != 0 {
		t.Fatalf("live sessions after: %d, %v", live, err)
	}
}
