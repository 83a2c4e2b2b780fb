package provisioning_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
)

// leaky is an AMS whose failures quote a member's row, as sqldir's contract faults and the
// database's own errors do: the first change scan breaks the contract on a value, look-ups of
// bob by key break it too, and the reconcile's second listing fails with a database error
// quoting a value (a conversion in a custom query).
type leaky struct {
	*listing
	scans, lists atomic.Int32
}

const leakedValue = "leaked-row-value-9c1e"

func (d *leaky) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	if d.scans.Add(1) == 1 {
		return nil, since, legacy.Unavailable("changed_since", fmt.Errorf("%w: member %s: no change time (updated_at_utc): %q is not a datetime",
			legacy.ErrContract, aliceKey, leakedValue))
	}
	return d.listing.ChangedSince(ctx, since, limit)
}

func (d *leaky) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	if key == bobKey {
		return nil, legacy.Unavailable("member_by_key", fmt.Errorf("%w: is_disabled: %q is not a boolean", legacy.ErrContract, leakedValue))
	}
	return d.listing.MemberByKey(ctx, key)
}

func (d *leaky) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	if d.lists.Add(1) == 2 {
		return nil, legacy.Unavailable("list_members",
			fmt.Errorf("mssql: Conversion failed when converting the varchar value '%s' to data type int", leakedValue))
	}
	return d.listing.ListMembers(ctx, afterKey, limit)
}

// TestNoLogLineQuotesARowValue (session 27, after review s26 R3-6): no line the poller or the
// reconcile logs quotes a value of a member's row, whatever the AMS's error says: a contract
// fault of the change scan (logged at error by the poll), of a member's look-up (the
// reconcile's "member not updated", with the member key), and a database error quoting a value
// (the reconcile stopped, an outage line). Each is logged by its class, with the member key
// where there is one.
func TestNoLogLineQuotesARowValue(t *testing.T) {
	r := newReconcileFixture(t)
	var out lockedLog
	now := time.Now()
	if err := r.st.SetWatermark(t.Context(), provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.dir.Remove("bob") // the reconcile looks bob up by key
	r.opts.Directory = &leaky{listing: r.list}
	r.opts.Config.ReconcileInterval = time.Hour // the first pass at once
	r.opts.Config.PollInterval = 5 * time.Millisecond
	r.opts.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.start()
	r.dir.Touch("alice", now.Add(-10*time.Minute))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.svc.Run(ctx) }()
	want := []string{"shadow: poll failed", "shadow: reconcile: member not updated", "member_key=" + bobKey, "shadow: reconcile stopped", "answer failed (contract", "answer failed (ams_unavailable"}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		log, all := out.String(), true
		for _, w := range want {
			all = all && strings.Contains(log, w)
		}
		if all || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	<-done
	log := out.String()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("no log line with %q", w)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, leakedValue) {
			t.Errorf("a log line quotes the member's row: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
