package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// heapMinimum is Go's minimum heap goal at GOGC 100 (runtime/mgcpacer.go defaultHeapMinimum);
// at GOGC p it is heapMinimum x p/100.
const heapMinimum = 4 << 20

// The runtime's figures of the last collection that its heap goal is computed from
// (gcControllerState.commit: goal = live + (live + stacks + globals) x GOGC/100).
var samples = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Percent is the collector's percentage that makes the heap goal max(floor, the goal of
// percent) after a collection that left live bytes live and scanned scan bytes of stacks and
// globals: percent when its goal reaches the floor, else the largest percentage whose goal
// (the minimum heap or the percentage's growth, whichever is larger) does not pass the floor.
func Percent(floor uint64, percent int, live, scan uint64) int {
	if floor == 0 || percent < 0 {
		return percent
	}
	goal := func(p uint64) uint64 { return max(heapMinimum*p/100, live+(live+scan)*p/100) }
	if goal(uint64(percent)) >= floor {
		return percent
	}
	// Both terms grow with p: the goal reaches the floor when the first of them does.
	p := floor * 100 / heapMinimum
	if live < floor && live+scan > 0 {
		p = min(p, (floor-live)*100/(live+scan))
	}
	return max(percent, int(p))
}

// Floor tunes the collector (Start).
type Floor struct {
	floor   uint64
	percent int
	mu      sync.Mutex
	stopped bool
	s       []metrics.Sample
	// last is the percentage set last (0: none yet).
	last int
}

// Start keeps the heap goal at or above floor bytes with the collector's percentage percent
// (the value the process would otherwise run with) until Stop: it sets the percentage now,
// from the last collection's figures, and again after every collection. A floor of 0 or a
// negative percentage (collection off) sets nothing.
func Start(floor uint64, percent int) *Floor {
	f := &Floor{floor: floor, percent: percent, s: make([]metrics.Sample, len(samples))}
	for i, name := range samples {
		f.s[i].Name = name
	}
	if floor == 0 || percent < 0 {
		f.stopped = true
		return f
	}
	f.tune()
	f.arm()
	return f
}

// sentinel is what each collection frees to tell the Floor: a pointer-holding object, so it
// is never batched with others by the allocator for small pointer-free objects (a tiny
// object's cleanup may run late or never).
type sentinel struct{ _ *int }

// arm allocates a sentinel whose cleanup, after the next collection that frees it, tunes the
// percentage and arms the next one.
func (f *Floor) arm() {
	runtime.AddCleanup(&sentinel{}, func(f *Floor) {
		if f.tune() {
			f.arm()
		}
	}, f)
}

// tune sets the percentage from the last collection's figures; false once stopped.
func (f *Floor) tune() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.s)
	live, scan := f.s[0].Value.Uint64(), f.s[1].Value.Uint64()+f.s[2].Value.Uint64()
	if p := Percent(f.floor, f.percent, live, scan); p != f.last {
		debug.SetGCPercent(p)
		f.last = p
	}
	return true
}

// Stop stops tuning and sets the configured percentage back.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	debug.SetGCPercent(f.percent)
}
