package sqlite

import (
	"path/filepath"
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
// a failed decode rolls it back (writeRowStmt).
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
