package provisioning_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// TestPollWatermarkBoundByTheAMSClock (session 27): the change stamps come from the AMS's
// clock, so the watermark's overlap is kept by the AMS's clock as well as the bridge's. Here
// the bridge's clock is an hour ahead of the AMS's. The first poll reads carol's change (30 s
// old by the AMS's clock); then a change of alice's stamped 60 s ago by the AMS's clock
// becomes visible (a save that committed late, or that the scan had passed). With the bound by
// the bridge's clock alone (its clock less 2 minutes, an hour past every change) the watermark
// moved to carol's change and alice's was never read; bounded by the AMS's clock, as the
// change times read tell it, it stays 2 minutes before, and the next poll syncs alice.
func TestPollWatermarkBoundByTheAMSClock(t *testing.T) {
	r := newReconcileFixture(t)
	ctx := t.Context()
	ams := time.Now()
	var clock atomic.Int64
	clock.Store(ams.Add(time.Hour).UnixNano()) // the bridge's clock, an hour ahead
	r.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	r.start()
	if err := r.st.SetWatermark(ctx, provisioning.WatermarkName, ams.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.dir.Touch("carol", ams.Add(-30*time.Second))
	if _, err := r.svc.Poll(ctx); err != nil {
		t.Fatalf("poll 1: %v", err)
	}
	r.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Late" })
	r.dir.Touch("alice", ams.Add(-60*time.Second))
	clock.Add(int64(time.Minute))
	if _, err := r.svc.Poll(ctx); err != nil {
		t.Fatalf("poll 2: %v", err)
	}
	var u wire.User
	if err := json.Unmarshal(r.shadowUser(aliceSub).View, &u); err != nil {
		t.Fatal(err)
	}
	if u.Name != "Alice Late" {
		mark, _ := r.st.Watermark(ctx, provisioning.WatermarkName)
		t.Fatalf("alice at the portal: %q; want her late change synced (watermark %s, her change %s)", u.Name,
			mark.Format(time.RFC3339Nano), ams.Add(-60*time.Second).Format(time.RFC3339Nano))
	}
}
