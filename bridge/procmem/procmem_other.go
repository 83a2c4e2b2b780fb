//go:build !linux

package procmem

// ReleaseStartupPages does nothing outside Linux.
func ReleaseStartupPages(evict bool) (int64, error) { return 0, nil }

// Trimmer does nothing outside Linux.
type Trimmer struct{}

// NewTrimmer returns a Trimmer that does nothing outside Linux.
func NewTrimmer() (*Trimmer, error) { return &Trimmer{}, nil }

// Trim does nothing outside Linux.
func (*Trimmer) Trim() (released int64, trimmed bool, err error) { return 0, false, nil }
