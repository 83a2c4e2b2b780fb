//go:build !race

package sso_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
