//go:build race

package procmem

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
