package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateFamilyGrantsClient: the migration indexing family_grants by client keeps every
// grant, DeleteClient's revocation can use that index instead of reading every grant of every
// client (its plan with sequential scans made the last resort names the index), and it revokes
// the deleted client's families only (SQLite's TestMigrateFamilyGrantsClient). A database at
// the version before, holding families of two clients, is opened and upgraded.
func TestMigrateFamilyGrantsClient(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool { return strings.Contains(q, "family_grants_client") })
	if !found {
		t.Fatal("no migration indexes family_grants by client_id")
	}
	now := time.Now().Truncate(time.Second).UTC()
	for _, f := range []struct{ id, client string }{{"f1", "gone"}, {"f2", "kept"}, {"f3", "gone"}} {
		db.exec(`INSERT INTO families (family_id, token_hash, expires_at) VALUES ($1, $2, $3)`, f.id, "h-"+f.id, now.Add(time.Hour).UnixNano())
		db.exec(`INSERT INTO family_grants (family_id, client_id, subject, created_at) VALUES ($1, $2, 'alice', $3)`, f.id, f.client, now.UnixNano())
	}
	db.close()

	s, err := postgres.Open(ctx, db.dsn, postgres.WithClock(func() time.Time { return now }))
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })

	// DeleteClient's statement revoking the client's grants (misc.go). Three rows make any plan
	// cheap: with sequential scans priced out, the planner takes an index on client_id if
	// there is one.
	conn, err := pgx.Connect(ctx, db.dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN UPDATE families SET revoked = true
			WHERE family_id IN (SELECT family_id FROM family_grants WHERE client_id = $1) AND NOT revoked`, "gone")
	ssotest.NoErr(t, err, "EXPLAIN")
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	ssotest.NoErr(t, err, "EXPLAIN rows")
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "family_grants_client") || strings.Contains(text, "Seq Scan on family_grants") {
		t.Errorf("DeleteClient's revocation does not use family_grants_client:\n%s", text)
	}

	ssotest.NoErr(t, s.DeleteClient(ctx, "gone"), "DeleteClient(gone)")
	for id, revoked := range map[string]bool{"f1": true, "f2": false, "f3": true} {
		f, err := s.Family(ctx, id)
		if err != nil || f.Revoked != revoked {
			t.Errorf("Family(%s) after DeleteClient(gone) = %+v, %v; want revoked %v", id, f, err, revoked)
		}
	}
}
