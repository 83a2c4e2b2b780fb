//go:build !race

package identity_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
