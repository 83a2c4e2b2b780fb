package sqlite

import (
	"path/filepath"
	"testing"
	"time"
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
