package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestR5MigratePollRetries (review s27 R5, checked and sound): a database of schema version 33
// with a reconcile pass in progress and the poller's watermark keeps both through migration 34
// (poll_retries, reconcile_state.gone): the pass resumes at its cursor with nothing counted as
// gone yet, the retry list starts empty, and both new writes work on the migrated schema.
func TestR5MigratePollRetries(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v33.db")
	db, exec := openAtVersion(t, path, 33)
	now := time.Now().Truncate(time.Second)
	exec(`INSERT INTO reconcile_state (name, started_at, cursor, finished_at) VALUES ('shadow.reconcile', ?, '0F3A-B', ?)`, ts(now), ts(now.Add(-time.Hour)))
	exec(`INSERT INTO watermarks (name, value) VALUES ('shadow.poll', ?)`, ts(now.Add(-time.Minute)))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path)
	st, err := s.ReconcileState(ctx, "shadow.reconcile")
	if err != nil || st.Cursor != "0F3A-B" || !st.StartedAt.Equal(now) || !st.FinishedAt.Equal(now.Add(-time.Hour)) || st.Gone != 0 {
		t.Fatalf("reconcile state after migration = %+v, %v", st, err)
	}
	if l, err := s.PollRetries(ctx); err != nil || len(l) != 0 {
		t.Fatalf("retry list after migration = %+v, %v", l, err)
	}
	mark := now
	if err := s.SetPollProgress(ctx, "shadow.poll", mark, []store.PollRetry{{MemberKey: "A-1", Attempts: 3, NextTry: now.Add(time.Minute)}}, nil, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if w, err := s.Watermark(ctx, "shadow.poll"); err != nil || !w.Equal(mark) {
		t.Fatalf("watermark = %v, %v; want %v", w, err, mark)
	}
	st.Gone = 7
	if err := s.SetReconcileState(ctx, "shadow.reconcile", st); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReconcileState(ctx, "shadow.reconcile"); err != nil || got.Gone != 7 || got.Cursor != "0F3A-B" {
		t.Fatalf("reconcile state = %+v, %v", got, err)
	}
}
