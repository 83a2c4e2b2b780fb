package sqlite

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// deleteClientGrants is DeleteClient's statement revoking the client's grants (misc.go).
const deleteClientGrants = `UPDATE families SET revoked = 1
			WHERE family_id IN (SELECT family_id FROM family_grants WHERE client_id = ?) AND revoked = 0`

// TestMigrateFamilyGrantsClient: the migration indexing family_grants by client keeps every
// grant, DeleteClient's revocation searches that index instead of reading every grant of every
// client, and revokes the deleted client's families only. A database at the version before,
// holding families of two clients, is opened and upgraded.
func TestMigrateFamilyGrantsClient(t *testing.T) {
	ctx := t.Context()
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "family_grants_client") })
	if before < 0 {
		t.Fatal("no migration indexes family_grants by client_id")
	}
	path := filepath.Join(t.TempDir(), "before.db")
	db, exec := openAtVersion(t, path, before)
	now := time.Now().Truncate(time.Second)
	for _, f := range []struct{ id, client string }{{"f1", "gone"}, {"f2", "kept"}, {"f3", "gone"}} {
		exec(`INSERT INTO families (family_id, token_hash, expires_at) VALUES (?, ?, ?)`, f.id, "h-"+f.id, ts(now.Add(time.Hour)))
		exec(`INSERT INTO family_grants (family_id, client_id, subject, created_at) VALUES (?, ?, 'alice', ?)`, f.id, f.client, ts(now))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path, WithClock(func() time.Time { return now }))

	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+deleteClientGrants, "gone")
	if err != nil {
		t.Fatal(err)
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
	if !slices.ContainsFunc(plan, func(d string) bool {
		return strings.HasPrefix(d, "SEARCH family_grants USING") && strings.Contains(d, "family_grants_client (client_id=?)")
	}) {
		t.Errorf("DeleteClient's revocation does not search family_grants by client_id:\n%s\nplan: %q", deleteClientGrants, plan)
	}

	if err := s.DeleteClient(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for id, revoked := range map[string]bool{"f1": true, "f2": false, "f3": true} {
		f, err := s.Family(ctx, id)
		if err != nil || f.Revoked != revoked {
			t.Errorf("Family(%s) after DeleteClient(gone) = %+v, %v; want revoked %v", id, f, err, revoked)
		}
	}
}
