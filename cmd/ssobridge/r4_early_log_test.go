package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/procmem"
)

// TestR4EarlyDropFailureLevel (review s27 R4-3): a binary the service user may run but not read
// (mode 0711) cannot be opened for the drop before initialisation, at every start. Under
// memory.binary_pages keep or unmap the operator asked for no drop, and the configuration
// cannot turn the early one off: that failure is not a warning there (debug). Under evict it
// stays a warning, as the release after start-up's is.
func TestR4EarlyDropFailureLevel(t *testing.T) {
	failed := fmt.Errorf("procmem: page cache drop before initialisation: %w", syscall.EACCES)
	for _, tc := range []struct {
		pages string
		e     procmem.Early
		err   error
		want  string
	}{
		{"evict", procmem.EarlyFailed, failed, "level=WARN"},
		{"keep", procmem.EarlyFailed, failed, "level=DEBUG"},
		{"unmap", procmem.EarlyFailed, failed, "level=DEBUG"},
		{"keep", procmem.EarlyDropped, nil, "level=INFO"},
		{"evict", procmem.EarlyDropped, nil, "level=DEBUG"},
		{"keep", procmem.EarlySkipped, nil, "level=DEBUG"},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logEarlyDrop(log, tc.pages, tc.e, tc.err)
		if got := buf.String(); !strings.HasPrefix(strings.SplitN(got, " ", 2)[1], tc.want) {
			t.Errorf("memory.binary_pages %s, outcome %s (%v): logged %q, want %s", tc.pages, tc.e, tc.err, got, tc.want)
		}
	}
}
