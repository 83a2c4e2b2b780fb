package provisioning_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
)

// TestR7PollWarnsOfClocksApart (review s28 R7-7): since the poll reads the AMS database's
// clock, warnAhead compares change stamps with it, not with the bridge's. A database clock an
// hour ahead of the bridge's (its stamps with it) then draws no warning: the watermark stays
// bounded by the bridge's clock, and every poll reads the hour of changes between the two
// again, silently. Before, the stamps an hour ahead of the bridge's clock were warned of.
// A poll warns (at most once an hour) when the two clocks are more than 5 minutes apart,
// either way; with the clocks together it says nothing.
func TestR7PollWarnsOfClocksApart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		apart time.Duration // the database's clock less the bridge's
		warn  string        // "": no warning
	}{
		{"database an hour ahead", time.Hour, "database_ahead=1h0m0s"},
		{"database an hour behind", -time.Hour, "database_ahead=-1h0m0s"},
		{"clocks together", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
				clients{"portal": {ID: "portal"}})
			ctx := t.Context()
			f.dir.Clock = func() time.Time { return time.Now().Add(tc.apart) }
			var out lockedLog
			f.opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
			f.start()
			for poll := 1; poll <= 2; poll++ {
				if _, err := f.svc.Poll(ctx); err != nil {
					t.Fatalf("poll %d: %v", poll, err)
				}
			}
			log := out.String()
			n := strings.Count(log, "clocks are apart")
			switch {
			case tc.warn == "" && n != 0:
				t.Errorf("a warning with the clocks together:\n%s", log)
			case tc.warn != "" && (n != 1 || !strings.Contains(log, tc.warn)):
				t.Errorf("want one warning with %q in two polls, got %d:\n%s", tc.warn, n, log)
			}
		})
	}
}
