package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWALTruncationHoldsNoWriterBehindAReader (review s6 F3): the idle-WAL truncation must not
// take the write lock and wait for a reader that keeps a snapshot (an operator's
// `sqlite3 .backup`, any long read): with the pool's busy timeout it held every write back for
// up to that long. While the truncating tick runs, a write from another connection that does
// wait long must never be refused as busy: in WAL mode a reader never blocks a writer.
func TestWALTruncationHoldsNoWriterBehindAReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssobridge.db")
	// No background checkpointer: the test runs the ticks. A long busy timeout, as a loaded
	// production store might have, makes the truncation wait as long as the reader.
	s, err := Open(t.Context(), path, WithCheckpointInterval(0), WithBusyTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range 20 {
		if _, err := s.EnsureSecret(t.Context(), fmt.Sprintf("k%d", i), make([]byte, 2000)); err != nil {
			t.Fatal(err)
		}
	}
	// The outside reader: a snapshot that includes every frame, kept open.
	reader, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM secrets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// The probe waits a second at most (the truncation, when it gives up at once, holds the
	// write lock for a moment only; the broken one held it as long as the reader read).
	writer, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	writer.SetMaxOpenConns(1)

	var idle walIdle
	s.checkpointTick(t.Context(), &idle) // wholly copied: remembered
	if idle.frames == 0 {
		t.Fatal("the first tick did not find the WAL wholly copied back (set-up)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // bounds the broken version's wait
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.checkpointTick(ctx, &idle) // unchanged: truncates
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		_, err := writer.Exec(`CREATE TABLE IF NOT EXISTS probe (x); DELETE FROM probe WHERE x = ?`, i)
		if err != nil {
			if isBusy(err) {
				cancel()
				<-done
				t.Fatalf("a write was refused as busy while the WAL truncation waited for a reader: %v", err)
			}
			t.Fatal(err)
		}
	}
}

func isBusy(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked") ||
		errors.Is(err, context.DeadlineExceeded))
}
