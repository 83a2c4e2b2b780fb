package procmem

// Early is what the drop before package initialisation did (see EarlyDrop).
type Early int

const (
	// EarlyNotBuilt: the build has no such drop (not Linux, or built with CGO_ENABLED=0).
	EarlyNotBuilt Early = iota
	// EarlyNotServe: the command line does not run serve; nothing was done.
	EarlyNotServe
	// EarlyDropped: the executable was written within the last 10 minutes (`go build`, `go
	// run`) and its pages that nothing mapped yet left the page cache.
	EarlyDropped
	// EarlySkipped: SSOBRIDGE_BINARY_PAGES=keep or unmap in the environment turned it off.
	EarlySkipped
	// EarlyFailed: a step failed (the error says which); nothing else depends on it.
	EarlyFailed
	// EarlyInMemory: the executable is on tmpfs or ramfs, whose pages cannot leave the page
	// cache; nothing was done.
	EarlyInMemory
	// EarlyNotRecent: the executable was not written within the last 10 minutes (an
	// installed, packaged or image binary, read back from disk and perhaps shared with other
	// processes): nothing was done, memory.binary_pages decides.
	EarlyNotRecent
)

// String names the outcome for logs.
func (e Early) String() string {
	switch e {
	case EarlyNotBuilt:
		return "not built"
	case EarlyNotServe:
		return "not serve"
	case EarlyDropped:
		return "dropped"
	case EarlySkipped:
		return "skipped"
	case EarlyFailed:
		return "failed"
	case EarlyInMemory:
		return "in memory (tmpfs)"
	case EarlyNotRecent:
		return "left: not recently written"
	}
	return "unknown"
}

// EnvBinaryPages is the environment variable the drop before package initialisation reads
// (keep or unmap turn it off): it runs before the configuration can be read.
const EnvBinaryPages = "SSOBRIDGE_BINARY_PAGES"
