package provisioning

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestFencedPollLogsOneWarning: a poll whose writes were refused because another replica took
// the sync lock (store.ErrFenced, by member and for the progress) is logged as one warning that
// says so, not as an error per member as if each had failed (review s28 R10-2).
func TestFencedPollLogsOneWarning(t *testing.T) {
	var buf bytes.Buffer
	s := &Service{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), now: time.Now}
	var down logging.Outage
	err := &pollError{errs: []error{
		fmt.Errorf("member 0a1b: sync: %w", store.ErrFenced),
		fmt.Errorf("poll progress: %w", store.ErrFenced),
	}}
	s.logPoll(context.Background(), &down, 1, err)
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "another replica took the sync lock") {
		t.Fatalf("a fenced poll logged:\n%s\nwant one warning that another replica took the sync lock", out)
	}
	if strings.Contains(out, "0a1b") || strings.Contains(out, "poll failed") {
		t.Fatalf("a fenced poll logged a member's failure:\n%s", out)
	}
}
