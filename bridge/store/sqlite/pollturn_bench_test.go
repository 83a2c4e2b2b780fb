//go:build unix

package sqlite

import (
	"runtime"
	"testing"
)

// BenchmarkPollTurnWait is one leader's wait for a network poll (pollTurn.wait) with one
// processor and nothing else to run: the leader's write, the poll, its read.
func BenchmarkPollTurnWait(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var p pollTurn
	defer p.close()
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := p.wait(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
