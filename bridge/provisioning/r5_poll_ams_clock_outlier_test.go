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

// TestR5PollAMSClockBoundSurvivesOneStampAhead (review s27 R5-4): F's bound by the AMS's clock
// is estimated as the largest (change time - bridge's read time) ever seen by the process. The
// imis change scan unions stamps of several clocks (imis-schema.md §5): the UpdatedOn columns
// (the database server's GETUTCDATE() + the fixed TimeZoneOffset, converted back exactly),
// aspnet_Membership's LastPasswordChangedDate/LastLockoutDate (the web server's
// DateTime.UtcNow) and Name.LAST_UPDATED (written by the application, in its local time: an
// hour off the fixed offset across daylight saving). One stamp ahead of the database's clock
// raises the estimate for the life of the process, and the bound is gone. Here, as in
// TestPollWatermarkBoundByTheAMSClock, the bridge's clock is an hour ahead of the AMS's; the
// first poll also reads dave's change stamped an hour ahead of the database's clock (so only
// seconds behind the bridge's: no "ahead" warning). Alice's change stamped 60 s ago by the
// database's clock, visible late, is then never read: the watermark is an hour past it.
// Fails on main 229383f.
func TestR5PollAMSClockBoundSurvivesOneStampAhead(t *testing.T) {
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
	r.dir.Touch("dave", ams.Add(time.Hour-10*time.Second)) // another clock's stamp, an hour ahead
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
