package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/wire"
)

// noClock is a directory that cannot read the AMS's clock (no legacy.ClockReader).
type noClock struct{ legacy.Directory }

// clockDown is a directory whose clock read fails as the AMS away.
type clockDown struct{ *listing }

func (clockDown) DatabaseNow(context.Context) (time.Time, error) {
	return time.Time{}, legacy.Unavailable("db_clock", context.DeadlineExceeded)
}

// TestPollWatermarkByTheDatabaseClock (session 28, P; review s27 R5-4). The bridge's clock is
// an hour ahead of the AMS's, as in TestPollWatermarkBoundByTheAMSClock and R5's
// TestR5PollAMSClockBoundSurvivesOneStampAhead: poll 1 reads carol's change and, in some
// cases, dave's stamped an hour ahead of the database's clock (another of the scan's clocks);
// then alice's change stamped 60 s ago by the database's clock becomes visible (it committed
// late), and poll 2 must sync it.
//   - With the database's clock read before the scan, dave's stamp changes nothing: the
//     watermark stays 2 minutes behind the database's clock, and the poll warns that dave's
//     change is stamped ahead of the database's clock (it is seconds behind the bridge's, so
//     the old warning by the bridge's clock said nothing).
//   - A directory without a clock (none, or legacy.ErrNoClock through the cache) keeps the
//     estimate from the change times read: right without dave's stamp. With it the estimate
//     is poisoned, as R5 showed: that is the case the clock is for (not tested here).
//   - A clock read that fails is the AMS away: the poll stops before it reads anything and
//     keeps the watermark.
func TestPollWatermarkByTheDatabaseClock(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wrap     func(l *listing) legacy.Directory
		daveOdd  bool   // dave's change stamped an hour ahead of the database's clock
		warn     string // a warning poll 1 logs ("": none about a stamp ahead)
		down     bool   // poll 1 fails as the AMS away, having read nothing
		synced   bool   // alice's late change synced by poll 2
		carolNew bool   // carol's change synced by poll 1
	}{
		{name: "database clock, one stamp from another clock", wrap: func(l *listing) legacy.Directory { return l },
			daveOdd: true, warn: "ahead of the AMS database's clock", synced: true, carolNew: true},
		{name: "database clock", wrap: func(l *listing) legacy.Directory { return l }, synced: true, carolNew: true},
		{name: "no clock: estimated from the change times", wrap: func(l *listing) legacy.Directory { return noClock{l} }, synced: true, carolNew: true},
		{name: "ErrNoClock through the cache: estimated", wrap: func(l *listing) legacy.Directory {
			return cache.New(noClock{l}, cache.Options{})
		}, synced: true, carolNew: true},
		{name: "clock unavailable", wrap: func(l *listing) legacy.Directory { return clockDown{l} }, down: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReconcileFixture(t)
			ctx := t.Context()
			ams := time.Now()
			var clock atomic.Int64
			clock.Store(ams.Add(time.Hour).UnixNano()) // the bridge's clock, an hour ahead
			r.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
			r.opts.Directory = tc.wrap(r.list)
			var out lockedLog
			r.opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
			r.start()
			since := ams.Add(-time.Hour)
			if err := r.st.SetWatermark(ctx, provisioning.WatermarkName, since); err != nil {
				t.Fatal(err)
			}
			r.dir.Update("carol", func(m *legacy.Member) { m.FullName = "Carol New" })
			r.dir.Touch("carol", ams.Add(-30*time.Second))
			if tc.daveOdd {
				r.dir.Touch("dave", ams.Add(time.Hour-10*time.Second))
			}
			_, err := r.svc.Poll(ctx)
			if tc.down != (err != nil) || (tc.down && !errors.Is(err, legacy.ErrUnavailable)) {
				t.Fatalf("poll 1: %v; want the AMS unavailable: %v", err, tc.down)
			}
			if got := strings.Contains(out.String(), "stamped ahead"); got != (tc.warn != "") ||
				(tc.warn != "" && (!strings.Contains(out.String(), tc.warn) || !strings.Contains(out.String(), "member_key="+daveKey))) {
				t.Errorf("poll 1's log, want a warning %q about dave's change: %v\n%s", tc.warn, got, out.String())
			}
			if tc.down {
				if mark, _ := r.st.Watermark(ctx, provisioning.WatermarkName); !mark.Equal(since) {
					t.Errorf("watermark %s after a poll that read nothing; want it kept at %s", mark, since)
				}
			}
			if got := r.userName(carolSub) == "Carol New"; got != tc.carolNew {
				t.Errorf("carol synced by poll 1: %v, want %v", got, tc.carolNew)
			}
			r.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Late" })
			r.dir.Touch("alice", ams.Add(-60*time.Second))
			clock.Add(int64(time.Minute))
			_, err = r.svc.Poll(ctx)
			if got := r.userName(aliceSub) == "Alice Late"; got != tc.synced {
				mark, _ := r.st.Watermark(ctx, provisioning.WatermarkName)
				t.Fatalf("alice's late change synced: %v, want %v (poll 2: %v; watermark %s, her change %s)", got, tc.synced, err,
					mark.Format(time.RFC3339Nano), ams.Add(-60*time.Second).Format(time.RFC3339Nano))
			}
		})
	}
}

// userName is the name the portal was last sent for sub.
func (r *reconcileFixture) userName(sub string) string {
	r.t.Helper()
	var u wire.User
	if err := json.Unmarshal(r.shadowUser(sub).View, &u); err != nil {
		r.t.Fatal(err)
	}
	return u.Name
}
