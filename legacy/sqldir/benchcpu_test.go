package sqldir_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimer measures the process's CPU time (user and system, every thread, the GC's workers
// too) over a benchmark loop. On a shared machine wall-clock ns/op counts the time other
// processes had the cores; cpu-ns/op does not.
type cpuTimer struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuTimer { return cpuTimer{start: processCPU()} }

// report adds cpu-ns/op to b's results; call it when the loop ends.
func (c cpuTimer) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
