package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

const mb = 1 << 20

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		name              string
		floor, live, scan uint64
		percent, want     int
	}{
		{"no floor", 0, 2 * mb, mb / 2, 100, 100},
		{"collection off", 8 * mb, 2 * mb, mb / 2, -1, -1},
		// 2 MB live: the minimum heap sets the goal; 200 puts it at 8 MB (2+2.5x2 = 7 MB below).
		{"small heap", 8 * mb, 2 * mb, mb / 2, 100, 200},
		// 3 MB live: growth sets the goal first; 3 + 3.5 x 142% = 7.97 MB, 143% would pass 8 MB.
		{"growth term first", 8 * mb, 3 * mb, mb / 2, 100, 142},
		// 4 MB live: the configured 100% reaches 8.5 MB, above the floor: it stands.
		{"above the floor", 8 * mb, 4 * mb, mb / 2, 100, 100},
		// Nothing collected yet: the minimum heap alone.
		{"before the first collection", 8 * mb, 0, 0, 100, 200},
		{"a higher configured percentage", 8 * mb, 2 * mb, mb / 2, 250, 250},
		{"live above the floor", 8 * mb, 9 * mb, mb / 2, 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percent(tc.floor, tc.percent, tc.live, tc.scan)
			if got != tc.want {
				t.Fatalf("Percent(%d MB, %d, %d, %d) = %d, want %d", tc.floor/mb, tc.percent, tc.live, tc.scan, got, tc.want)
			}
			if got <= 0 || tc.floor == 0 {
				return
			}
			// The goal Go computes from the result: max(floor, the configured goal), and the
			// floor not passed when the floor sets it.
			goal := func(p int) uint64 { return max(heapMinimum*uint64(p)/100, tc.live+(tc.live+tc.scan)*uint64(p)/100) }
			configured := goal(tc.percent)
			if g := goal(got); configured >= tc.floor && g != configured || configured < tc.floor && (g > tc.floor || g < tc.floor-tc.floor/50) {
				t.Fatalf("goal %d, want max(floor %d, configured %d) (within 2%% below the floor)", g, tc.floor, configured)
			}
		})
	}
}

// TestStartKeepsTheGoalAtTheFloor: after a collection the runtime's heap goal is the floor (the
// test's live heap is far below it), and Stop sets the configured percentage back.
func TestStartKeepsTheGoalAtTheFloor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 24 * mb
	f := Start(floor, 100)
	defer f.Stop()
	atFloor := func(goal, _ uint64) bool { return goal >= floor-floor/50 && goal <= floor+mb }
	if goal, p := collectUntil(atFloor); !atFloor(goal, p) {
		t.Fatalf("heap goal %d MB at GOGC %d, want the floor (%d MB)", goal/mb, p, floor/mb)
	}
	// The tuning goes on collection after collection: with 16 MB more live, 100% reaches
	// past the floor and stands (the raised percentage would put the goal at 100 MB or more).
	big := make([]byte, 16*mb)
	configured := func(goal, p uint64) bool { return p == 100 && goal <= 40*mb }
	if goal, p := collectUntil(configured); !configured(goal, p) {
		t.Fatalf("heap goal %d MB at GOGC %d with 16 MB more live, want GOGC 100 (goal about 33 MB)", goal/mb, p)
	}
	runtime.KeepAlive(big)
	big = nil
	if goal, p := collectUntil(atFloor); !atFloor(goal, p) {
		t.Fatalf("heap goal %d MB at GOGC %d once the 16 MB are gone, want the floor (%d MB)", goal/mb, p, floor/mb)
	}
	f.Stop()
	if p := gogc(); p != 100 {
		t.Fatalf("GOGC %d after Stop, want 100", p)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := gogc(); p != 100 {
		t.Fatalf("GOGC %d after a collection after Stop, want 100 (a cleanup tuned it)", p)
	}
}

// collectUntil collects until the runtime's heap goal and GOGC satisfy ok (the cleanup that
// tunes them runs after the collection, on its own goroutine), for up to 10 s; it returns the
// last ones read.
func collectUntil(ok func(goal, gogc uint64) bool) (goal, gogc uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}}
	for deadline := time.Now().Add(10 * time.Second); ; {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		metrics.Read(s)
		goal, gogc = s[0].Value.Uint64(), s[1].Value.Uint64()
		if ok(goal, gogc) || time.Now().After(deadline) {
			return goal, gogc
		}
	}
}

// gogc is the collector's percentage as the runtime reports it.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestStartOff: no floor, or collection off, sets nothing.
func TestStartOff(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		floor   uint64
		percent int
	}{{0, 100}, {8 * mb, -1}} {
		f := Start(tc.floor, tc.percent)
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if p := debug.SetGCPercent(100); p != 100 {
			t.Fatalf("Start(%d, %d): GOGC %d, want it untouched (100)", tc.floor, tc.percent, p)
		}
		f.Stop()
	}
}
