package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestR5MigratePollRetries (review s27 R5, checked and sound): a database at the version before
// poll_retries, with a reconcile pass in progress and the poller's watermark, keeps both
// through migration 26 (poll_retries, reconcile_state.gone): the pass resumes at its cursor
// with nothing counted as gone yet, the retry list starts empty, and both new writes work.
func TestR5MigratePollRetries(t *testing.T) {
	ctx := t.Context()
	db, found := migratedBefore(t, func(v int, q string) bool { return strings.Contains(q, "CREATE TABLE poll_retries") })
	if !found {
		t.Fatal("no migration creates poll_retries")
	}
	now := time.Now().Truncate(time.Second)
	db.exec(`INSERT INTO reconcile_state (name, started_at, cursor, finished_at) VALUES ('shadow.reconcile', $1, '0F3A-B', $2)`,
		now.UnixNano(), now.Add(-time.Hour).UnixNano())
	db.exec(`INSERT INTO watermarks (name, value) VALUES ('shadow.poll', $1)`, now.Add(-time.Minute).UnixNano())
	db.close()

	s, err := postgres.Open(ctx, db.dsn)
	ssotest.NoErr(t, err, "Open (migrate)")
	t.Cleanup(func() { _ = s.Close() })
	st, err := s.ReconcileState(ctx, "shadow.reconcile")
	if err != nil || st.Cursor != "0F3A-B" || !st.StartedAt.Equal(now) || !st.FinishedAt.Equal(now.Add(-time.Hour)) || st.Gone != 0 {
		t.Fatalf("reconcile state after migration = %+v, %v", st, err)
	}
	if w, err := s.Watermark(ctx, "shadow.poll"); err != nil || !w.Equal(now.Add(-time.Minute)) {
		t.Fatalf("watermark after migration = %v, %v", w, err)
	}
	if l, err := s.PollRetries(ctx); err != nil || len(l) != 0 {
		t.Fatalf("retry list after migration = %+v, %v", l, err)
	}
	ssotest.NoErr(t, s.SetPollProgress(ctx, "shadow.poll", now, []store.PollRetry{{MemberKey: "A-1", Attempts: 3, NextTry: now.Add(time.Minute)}}, nil, store.Fence{}), "SetPollProgress")
	st.Gone = 7
	ssotest.NoErr(t, s.SetReconcileState(ctx, "shadow.reconcile", st), "SetReconcileState")
	if got, err := s.ReconcileState(ctx, "shadow.reconcile"); err != nil || got.Gone != 7 || got.Cursor != "0F3A-B" {
		t.Fatalf("reconcile state = %+v, %v", got, err)
	}
}
