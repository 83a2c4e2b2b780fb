package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// BenchmarkLoginWritesParallel is BenchmarkLoginWrites from 8 goroutines per processor, as the
// load run's 8 concurrent logins on one processor (-cpu 1) make them: with the common
// group-commit queue, the writes of concurrent logins share transactions (writes/batch).
func BenchmarkLoginWritesParallel(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "login.db"))
	now := time.Now()
	for range 5000 {
		loginWrites(b, s, now, nil)
	}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	cpu, batches, ops := cpuTime(), s.writes.batches.Load(), s.writes.ops.Load()
	defer func() {
		reportCPU(b, cpu)
		b.ReportMetric(float64(s.writes.ops.Load()-ops)/float64(s.writes.batches.Load()-batches), "writes/batch")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			loginWrites(b, s, now, nil)
		}
	})
}

// BenchmarkClaimAuthRequest is a login page's claim of its request alone (no other write
// waiting): a savepoint-free UPDATE ... RETURNING in autocommit before, a transaction now that
// a failed decode rolls it back (claimWrite), on the write connection's driver statements.
func BenchmarkClaimAuthRequest(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "claim.db"))
	now := time.Now()
	ids := make([]string, b.N)
	for i := range ids {
		ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid", "profile"}, ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateAuthRequest(b.Context(), ar); err != nil {
			b.Fatal(err)
		}
		ids[i] = ar.ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for i := range b.N {
		if ar, err := s.ClaimAuthRequest(b.Context(), ids[i], "browser"); err != nil || ar == nil {
			b.Fatal(ar, err)
		}
	}
}

// BenchmarkRotationsParallel is the refresh grant's write from 16 goroutines per processor, as
// the load run's 16 refresh chains on one processor (-cpu 1) make it: concurrent rotations of
// distinct families share transactions (writes/batch).
func BenchmarkRotationsParallel(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "rotate.db"))
	now := time.Now()
	const chains = 256
	fams := make(chan *sso.RefreshToken, chains)
	for range chains {
		f := benchFamily(now)
		if err := s.IssueTokens(b.Context(), sso.Issue{Family: f}); err != nil {
			b.Fatal(err)
		}
		fams <- f
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	cpu, batches, ops := cpuTime(), s.writes.batches.Load(), s.writes.ops.Load()
	defer func() {
		reportCPU(b, cpu)
		b.ReportMetric(float64(s.writes.ops.Load()-ops)/float64(s.writes.batches.Load()-batches), "writes/batch")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f := <-fams
			if f = benchRotate(b, s, f, ssotest.RandomID(), now); f == nil {
				return
			}
			fams <- f
		}
	})
}

// BenchmarkRotationBatch8 is the refresh grant's write in batches of exactly 8 rotations (about
// what a loaded token endpoint's group commit holds at 16 concurrent refreshes), queued while
// the queue has no leader and then run as one transaction: unlike BenchmarkRotationsParallel
// its batch size does not depend on scheduling. Per rotation; goroutine start-up included.
func BenchmarkRotationBatch8(b *testing.B) {
	const size = 8
	s := openTest(b, filepath.Join(b.TempDir(), "batch.db"))
	now := time.Now()
	fams := make([]*sso.RefreshToken, 256)
	for i := range fams {
		fams[i] = benchFamily(now)
		if err := s.IssueTokens(b.Context(), sso.Issue{Family: fams[i]}); err != nil {
			b.Fatal(err)
		}
	}
	rotateInBatches(b, s, fams, size, now)
}

// BenchmarkTxCost splits the fixed cost of a transaction on the write connection (file
// database, nothing written) between database/sql (BeginTx: a cancel context and a goroutine
// per transaction) and the driver (a BEGIN IMMEDIATE and a COMMIT prepared each time), against
// the same statements prepared once on the driver connection.
func BenchmarkTxCost(b *testing.B) {
	b.Run("sql", func(b *testing.B) {
		s := openTest(b, filepath.Join(b.TempDir(), "tx.db"))
		ctx := context.WithoutCancel(b.Context())
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("driver", func(b *testing.B) {
		s := openTest(b, filepath.Join(b.TempDir(), "tx.db"))
		ctx := context.WithoutCancel(b.Context())
		conn, err := s.w.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			c := dc.(driver.ConnPrepareContext)
			begin, err := c.PrepareContext(ctx, "BEGIN IMMEDIATE")
			if err != nil {
				return err
			}
			commit, err := c.PrepareContext(ctx, "COMMIT")
			if err != nil {
				return err
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := begin.(driver.StmtExecContext).ExecContext(ctx, nil); err != nil {
					return err
				}
				if _, err := commit.(driver.StmtExecContext).ExecContext(ctx, nil); err != nil {
					return err
				}
			}
			reportCPU(b, cpu)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkRotateStmtCost is the rotation's UPDATE alone inside one long transaction, through
// database/sql (tx.StmtContext, ExecContext, RowsAffected) and through the driver's statement.
func BenchmarkRotateStmtCost(b *testing.B) {
	const fams = 256
	setup := func(b *testing.B) (*Store, []*sso.RefreshToken, time.Time) {
		s := openTest(b, filepath.Join(b.TempDir(), "rot.db"))
		now := time.Now()
		fs := make([]*sso.RefreshToken, fams)
		for i := range fs {
			fs[i] = benchFamily(now)
			if err := s.IssueTokens(b.Context(), sso.Issue{Family: fs[i]}); err != nil {
				b.Fatal(err)
			}
		}
		return s, fs, now
	}
	b.Run("sql", func(b *testing.B) {
		s, fs, now := setup(b)
		ctx := context.WithoutCancel(b.Context())
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback()
		ids := benchIDs(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := range b.N {
			f := fs[i%fams]
			at := ts(now)
			res, err := tx.StmtContext(ctx, s.st.rotate).ExecContext(ctx, ids[i], at, f.FamilyID, f.Generation, f.Hash, at)
			if err = affectedOne(res, err); err != nil {
				b.Fatal(err)
			}
			f.Hash, f.Generation = ids[i], f.Generation+1
		}
		reportCPU(b, cpu)
	})
	b.Run("driver", func(b *testing.B) {
		s, fs, now := setup(b)
		ctx := context.WithoutCancel(b.Context())
		conn, err := s.w.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		ids := benchIDs(b.N)
		err = conn.Raw(func(dc any) error {
			c := dc.(driver.ConnPrepareContext)
			rot, err := c.PrepareContext(ctx, `UPDATE families SET generation = generation + 1, token_hash = ?, rotated_at = ?
			WHERE family_id = ? AND generation = ? AND token_hash = ? AND token_hash <> '' AND revoked = 0 AND expires_at > ?`)
			if err != nil {
				return err
			}
			begin, _ := c.PrepareContext(ctx, "BEGIN IMMEDIATE")
			if _, err := begin.(driver.StmtExecContext).ExecContext(ctx, nil); err != nil {
				return err
			}
			var args [6]driver.NamedValue
			for i := range args {
				args[i].Ordinal = i + 1
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				f := fs[i%fams]
				at := ts(now)
				args[0].Value, args[1].Value, args[2].Value, args[3].Value, args[4].Value, args[5].Value = ids[i], at, f.FamilyID, int64(f.Generation), f.Hash, at
				res, err := rot.(driver.StmtExecContext).ExecContext(ctx, args[:])
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil || n != 1 {
					b.Fatal(n, err, sql.ErrNoRows)
				}
				f.Hash, f.Generation = ids[i], f.Generation+1
			}
			reportCPU(b, cpu)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// rotateInBatches rotates fams round-robin, b.N rotations in batches of size, each batch queued
// while the queue has no leader and then run as one transaction; it reports CPU per rotation
// and writes per batch, and returns the number of batches.
func rotateInBatches(b *testing.B, s *Store, fams []*sso.RefreshToken, size int, now time.Time) int64 {
	q := s.writes
	b.ReportAllocs()
	b.ResetTimer()
	cpu, batches := cpuTime(), q.batches.Load()
	next := 0
	for done := 0; done < b.N; done += size {
		q.leader <- struct{}{}
		var wg sync.WaitGroup
		for range size {
			f := fams[next%len(fams)]
			next++
			r := &sso.Rotation{FamilyID: f.FamilyID, Generation: f.Generation, OldHash: f.Hash, NewHash: ssotest.RandomID(), Now: now, Grace: 5 * time.Second}
			q.mu.Lock()
			n0 := len(q.pending)
			q.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.IssueTokens(b.Context(), sso.Issue{Rotate: r}); err != nil {
					b.Error(err)
				}
			}()
			for {
				q.mu.Lock()
				n := len(q.pending)
				q.mu.Unlock()
				if n > n0 {
					break
				}
				runtime.Gosched()
			}
			f.Hash, f.Generation = r.NewHash, f.Generation+1
		}
		<-q.leader
		wg.Wait()
	}
	b.StopTimer()
	reportCPU(b, cpu)
	n := q.batches.Load() - batches
	b.ReportMetric(float64(b.N)/float64(n), "writes/batch")
	return n
}
