package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Timer holds the process's CPU time (user and system, every thread: the GC's workers and the
// syscalls too) at the start of a benchmark loop.
type Timer struct{ start time.Duration }

// Process returns the CPU time the process has used so far (0 if it cannot be read).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Start starts a Timer.
func Start() Timer { return Timer{start: Process()} }

// Report adds cpu-ns/op to b's results; call it when the loop ends.
func (t Timer) Report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(Process()-t.start)/float64(b.N), "cpu-ns/op")
	}
}
