//go:build !unix

package bridge

// lockServe is a no-op where flock is not available: two serving processes on one SQLite
// store are not detected there.
func lockServe(string) (func() error, error) { return func() error { return nil }, nil }
