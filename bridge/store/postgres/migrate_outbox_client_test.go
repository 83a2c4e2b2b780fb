package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestMigrateOutboxClient: the migration indexing pending outbox events by client keeps every
// event, and the fair claim reads the clients, each client's head and its in-flight event
// through those indexes instead of reading every pending event (its plan with sequential scans
// made the last resort names them: SQLite's TestMigrateOutboxClient). A database at the
// version before, holding pending events of three clients, is opened, upgraded and claimed from.
func TestMigrateOutboxClient(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool { return strings.Contains(q, "outbox_client_lease") })
	if !found {
		t.Fatal("no migration indexes pending outbox events by client")
	}
	now := time.Now().Truncate(time.Second).UTC()
	for i := range 30 {
		c := fmt.Sprint("c", i%3)
		db.exec(`INSERT INTO outbox (id, key, type, channel, client_id, subject, payload, next_attempt, created_at)
			VALUES ($1, $2, 'user.updated', 'scim', $3, $4, '{}', $5, $5)`, fmt.Sprint("e", i), fmt.Sprint(c, "/m", i/6), c, fmt.Sprint("m", i/6), now.UnixNano())
	}
	db.close()

	s, err := postgres.Open(ctx, db.dsn, postgres.WithClock(func() time.Time { return now }))
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })

	conn, err := pgx.Connect(ctx, db.dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN `+postgres.FairClaim, now.UnixNano(), now.UnixNano(), []int64{}, []string{})
	ssotest.NoErr(t, err, "EXPLAIN")
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	ssotest.NoErr(t, err, "EXPLAIN rows")
	text := strings.Join(plan, "\n")
	for _, idx := range []string{"outbox_client_lease", "outbox_key"} {
		if !strings.Contains(text, idx) {
			t.Errorf("the fair claim does not use %s:\n%s", idx, text)
		}
	}
	if strings.Contains(text, "Seq Scan on outbox") {
		t.Errorf("the fair claim reads the outbox sequentially:\n%s", text)
	}
	// The plan with the planner's own choices, and the re-check of next_attempt on the row
	// locked: TestClaimPlan.

	// The upgraded events are claimed one client's head at a time.
	l, err := s.ClaimEvents(ctx, store.Claim{Now: now.Add(time.Second), Lease: time.Minute, Limit: 3})
	ssotest.NoErr(t, err, "ClaimEvents")
	got := map[string]bool{}
	for _, e := range l {
		got[e.ClientID] = true
	}
	if len(l) != 3 || len(got) != 3 {
		t.Fatalf("claimed %d events of %d clients, want one of each of the three", len(l), len(got))
	}
}
