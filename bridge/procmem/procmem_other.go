//go:build !linux

package procmem

// ReleaseStartupPages does nothing outside Linux.
func ReleaseStartupPages(evict bool) (int64, error) { return 0, nil }
