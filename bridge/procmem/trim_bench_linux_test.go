package procmem

import (
	"testing"

	"golang.org/x/sys/unix"
)

func cpuNanos() int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTrimRead is the part of a Trim that runs before any madvise: one read of
// /proc/self/smaps, its parse and the choice of mappings (review s28 R8: its CPU time and
// allocations per Trim).
func BenchmarkTrimRead(b *testing.B) {
	tr, err := NewTrimmer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var size, n int
	c0 := cpuNanos()
	for i := 0; i < b.N; i++ {
		if tr.smaps, err = readProc("/proc/self/smaps", tr.smaps[:0]); err != nil {
			b.Fatal(err)
		}
		maps, err := parseSmaps(tr.smaps)
		if err != nil {
			b.Fatal(err)
		}
		size, n = len(tr.smaps), len(releasable(maps, tr.exe))
	}
	b.ReportMetric(float64(cpuNanos()-c0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(size), "smaps-bytes")
	b.ReportMetric(float64(n), "mappings")
}

// BenchmarkTrim is a whole Trim each time (the faults check passed), and the minor faults that
// follow it in this process until the next one.
func BenchmarkTrim(b *testing.B) {
	tr, err := NewTrimmer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	f0, c0 := faults(), cpuNanos()
	for i := 0; i < b.N; i++ {
		tr.faults = -1 << 40
		if _, trimmed, err := tr.Trim(); err != nil || !trimmed {
			b.Fatal(trimmed, err)
		}
	}
	b.ReportMetric(float64(cpuNanos()-c0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(faults()-f0)/float64(b.N), "faults/op")
}
