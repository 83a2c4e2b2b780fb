package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
)

// badRow is flicker whose next broken look-ups of alice by key break the column contract, the
// error quoting the offending value of her row, as sqldir's do ("%q is not a boolean"); the
// look-ups after those read her row (it passes the directory conformance suite with broken 0:
// TestTestDirectoriesConformance).
type badRow struct {
	*flicker
	broken atomic.Int32
}

const rowValue = "row-value-7f3a"

func (b *badRow) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	if key == aliceKey && b.broken.Add(-1) >= 0 {
		return nil, legacy.Unavailable("member_by_key", fmt.Errorf("%w: is_disabled: %q is not a boolean", legacy.ErrContract, rowValue))
	}
	return b.flicker.MemberByKey(ctx, key)
}

// TestConfirmRefusalLogsNoRowValue (session 26, review s26 R3-6): when the read confirming a
// refusal breaks the column contract, the warning names the member key and the error's class,
// never the error's text, which quotes the member's row.
func TestConfirmRefusalLogsNoRowValue(t *testing.T) {
	r := newReconcileFixture(t)
	var out lockedLog
	now := time.Now()
	if err := r.st.SetWatermark(t.Context(), provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	bad := &badRow{flicker: &flicker{listing: r.list, dirty: 1}}
	bad.broken.Store(1)
	r.opts.Directory = bad
	r.opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
	r.start()
	r.dir.Touch("alice", now.Add(-10*time.Minute))
	if _, err := r.svc.Poll(t.Context()); !errors.Is(err, provisioning.ErrRefusalUnconfirmed) {
		t.Fatalf("poll: %v; want alice's refusal unconfirmed", err)
	}
	log := out.String()
	if !strings.Contains(log, "the read confirming it failed") || !strings.Contains(log, "error_class=contract") {
		t.Fatalf("no warning with the error class:\n%s", log)
	}
	if strings.Contains(log, rowValue) {
		t.Fatalf("the log quotes alice's row:\n%s", log)
	}
}
