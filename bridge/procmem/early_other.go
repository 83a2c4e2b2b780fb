//go:build !linux || !cgo

package procmem

// EarlyDrop says what the drop before package initialisation did: this build has none.
func EarlyDrop() (Early, error) { return EarlyNotBuilt, nil }

// IsServeCommandLine: this build does not read the command line early.
func IsServeCommandLine([]string) bool { return false }
