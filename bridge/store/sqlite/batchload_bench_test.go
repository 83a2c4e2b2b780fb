package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// BenchmarkRotationBatchLoad is the refresh grant's write as the RS256 load run at c=16 makes it
// (scripts/loadtest: one family per connection): 16 families, rotated in batches of 6 (what the
// group commit holds there), each batch queued while the queue has no leader and run as one
// transaction. Per rotation, goroutine start-up included, on a store opened as the server opens
// it: the background checkpointer copies the WAL back every second, and its CPU is counted
// (process CPU), as a running server pays it.
//
// Besides CPU it reports the WAL frames (changed pages) each commit writes, two pwrite calls
// each, counted in an untimed run of as many batches on a store without checkpoints (the WAL's
// length then counts them; a checkpoint starts it over, and the frames a commit writes do not
// depend on it). The 16 families' states (the narrow families table) fit one page, so a commit
// writes 1 frame (2.38 when the state shared the 14-column row with the grant: a root holding
// one row, WITHOUT ROWID interior cells hold whole rows, and two leaves); a store with many
// families writes about one per rotation.
func BenchmarkRotationBatchLoad(b *testing.B) {
	const size, chains = 6, 16
	frames := walFramesPerBatch(b, size, chains)
	s := openTest(b, filepath.Join(b.TempDir(), "batch.db")) // checkpoints as the server runs them
	now := time.Now()
	fams := issueFamilies(b, s, chains, now)
	b.StartTimer() // walFramesPerBatch's run stopped it
	rotateInBatches(b, s, fams, size, now)
	b.ReportMetric(frames, "wal-frames/batch")
}

// issueFamilies stores n new families for the rotations.
func issueFamilies(b *testing.B, s *Store, n int, now time.Time) []*sso.RefreshToken {
	fams := make([]*sso.RefreshToken, n)
	for i := range fams {
		fams[i] = benchFamily(now)
		if err := s.IssueTokens(b.Context(), sso.Issue{Family: fams[i]}); err != nil {
			b.Fatal(err)
		}
	}
	return fams
}

// walFramesPerBatch is the WAL frames one batch of BenchmarkRotationBatchLoad's rotations
// writes, over b.N rotations on a store whose WAL is never checkpointed: its length counts them.
func walFramesPerBatch(b *testing.B, size, chains int) float64 {
	path := filepath.Join(b.TempDir(), "frames.db")
	s := openTest(b, path, WithCheckpointInterval(-1))
	if _, err := s.w.ExecContext(b.Context(), `PRAGMA wal_autocheckpoint = 0`); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	fams := issueFamilies(b, s, chains, now)
	walFrames := func() int64 {
		st, err := os.Stat(path + "-wal")
		if err != nil {
			b.Fatal(err)
		}
		return max(0, st.Size()-32) / (4096 + 24) // page_size 4096; a 32-byte WAL header
	}
	frames := walFrames()
	n := rotateInBatches(b, s, fams, size, now) // its figures are replaced by the timed run's
	return float64(walFrames()-frames) / float64(n)
}
