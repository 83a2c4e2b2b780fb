package bridgetest

import (
	"testing"

	"github.com/ssobridge/ssobridge/legacy/directorytest"
)

// The test fake passes the same directory contract as the real directories, so that bridge
// tests cannot rely on behaviour the real ones lack.
func TestFakeDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target { return ConformanceTarget(NewDirectory(), nil) })
}

// The counting wrapper too (Counting).
func TestCountingDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		d := NewDirectory()
		return ConformanceTarget(d, NewCounting(d))
	})
}
