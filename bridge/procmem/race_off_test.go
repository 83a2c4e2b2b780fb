//go:build !race

package procmem

// raceEnabled: see race_on_test.go.
const raceEnabled = false
