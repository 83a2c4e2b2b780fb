package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestAuditPurgeReadsItsBatch: a purge's batch walks the time index from its oldest entry and
// stops at its limit; it does not read every event older than the cut and sort them (a temporary
// b-tree), which made each batch cost as much as all those left.
func TestAuditPurgeReadsItsBatch(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "audit.db"))
	rows, err := s.w.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+purgeAuditQuery, 0, purgeBatch)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(plan, " | ")
	if !strings.Contains(got, "audit_log_time") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("the purge's batch: %s; want the time index read in order, no sort", got)
	}
}

// BenchmarkPurgeAudit is the purge of 20,000 audit events (20 batches) older than the cut,
// among 5,000 newer ones.
func BenchmarkPurgeAudit(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "audit.db"))
	ctx := b.Context()
	old, now := time.Now().Add(-48*time.Hour), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range 25000 {
			at := old
			if i >= 20000 {
				at = now
			}
			if err := s.Audit(ctx, &store.AuditEvent{Time: at.Add(time.Duration(i)), Event: "login.success", Subject: "s", ClientID: "c"}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		n, err := s.PurgeAudit(ctx, now.Add(-time.Hour))
		if err != nil || n != 20000 {
			b.Fatalf("purged %d: %v", n, err)
		}
		b.StopTimer()
		if _, err := s.PurgeAudit(ctx, now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
