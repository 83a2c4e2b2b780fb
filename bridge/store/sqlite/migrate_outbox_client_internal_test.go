package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMigrateOutboxClient: the migration indexing pending outbox events by client keeps every
// event, and the fair claim (fairClaim) reads the clients and each client's head and in-flight
// event through its indexes, not by reading every pending event; each client's head from its
// first due event (outbox_client_due, migration 27), not walking those waiting to retry. A database at the version
// before, holding pending events of three clients, is opened, upgraded and claimed from.
func TestMigrateOutboxClient(t *testing.T) {
	ctx := t.Context()
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "outbox_client_lease") })
	if before < 0 {
		t.Fatal("no migration indexes pending outbox events by client")
	}
	path := filepath.Join(t.TempDir(), "before.db")
	db, exec := openAtVersion(t, path, before)
	now := time.Now().Truncate(time.Second)
	for i := range 30 {
		c := fmt.Sprint("c", i%3)
		exec(`INSERT INTO outbox (id, key, type, channel, client_id, subject, payload, next_attempt, created_at)
			VALUES (?, ?, 'user.updated', 'scim', ?, ?, '{}', ?, ?)`, fmt.Sprint("e", i), fmt.Sprint(c, "/m", i/6), c, fmt.Sprint("m", i/6), ts(now), ts(now))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path, WithClock(func() time.Time { return now }))

	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+fairClaim, ts(now))
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
	for _, want := range []string{"outbox_client_due (client_id=? AND next_attempt<?)", "outbox_client (client_id>?)", "outbox_client_lease (client_id=? AND lease_until>?)", "outbox_key (key=? AND seq<?)"} {
		if !slices.ContainsFunc(plan, func(d string) bool { return strings.HasPrefix(d, "SEARCH") && strings.Contains(d, want) }) {
			t.Errorf("the fair claim does not search %s\nplan: %q", want, plan)
		}
	}
	// The first client is outbox_client's first entry (a scan stopped at its first row).
	if slices.ContainsFunc(plan, func(d string) bool {
		return strings.HasPrefix(d, "SCAN") && d != "SCAN c" && d != "SCAN CONSTANT ROW" && d != "SCAN outbox USING COVERING INDEX outbox_client"
	}) {
		t.Errorf("the fair claim scans a table or index\nplan: %q", plan)
	}
}
