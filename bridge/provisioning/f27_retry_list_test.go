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

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// TestPollRetryListSurvivesARestart (session 27, review s26 R3-7): the member whose sync keeps
// failing is on the poller's retry list when the watermark moves past its change (the 3rd
// poll), and that list is in the store: a restarted process (or another replica taking the
// lead: a new Service on the same store) still retries the member by key and syncs it once the
// fault is mended, with no change of the member's in the AMS. When the list was in memory, the
// restart forgot alice: the watermark had moved past her change and nothing read her again.
func TestPollRetryListSurvivesARestart(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	f.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	f.dir.Clock = f.opts.Now // the AMS's clock runs with the bridge's (its own bounds the watermark)
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	broken.Store(true)
	o := withOutbox(f.opts, f.clients, f.keys)
	f.opts.Access = switchedRule{Decider: o.Access, broken: &broken}
	f.start()
	changed := start.Add(-30 * time.Second)
	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Renamed" })
	f.dir.Touch("alice", changed)
	for poll := 1; poll <= 3; poll++ {
		if _, err := f.svc.Poll(ctx); err == nil {
			t.Fatalf("poll %d: no error; want alice's failure named", poll)
		}
		clock.Add(int64(10 * time.Minute))
	}
	mark, err := f.st.Watermark(ctx, provisioning.WatermarkName)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.st.PollRetries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mark.Before(changed) || len(l) != 1 || l[0].MemberKey != aliceKey || l[0].Attempts != 3 || l[0].Unconfirmed {
		t.Fatalf("after 3 failed polls: watermark %s (alice changed %s), retry list %+v; want the watermark past her, her row with 3 attempts",
			mark.Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano), l)
	}

	f.start() // a restart, or another replica taking the lead
	broken.Store(false)
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatalf("poll after the restart and the fix: %v", err)
	}
	su, err := f.st.ShadowUser(ctx, "portal", aliceSub)
	if err != nil {
		t.Fatal(err)
	}
	var u wire.User
	if err := json.Unmarshal(su.View, &u); err != nil {
		t.Fatal(err)
	}
	if u.Name != "Alice Renamed" {
		t.Fatalf("alice at the portal: %+v; want her change synced by the retry after the restart", u)
	}
	if l, err := f.st.PollRetries(ctx); err != nil || len(l) != 0 {
		t.Fatalf("retry list after alice's sync: %+v, %v; want it empty", l, err)
	}
}

// twoMinds is an AMS whose change scan reads alice deleted while every look-up by key reads
// her as she is (list and key queries that disagree for good, or while dirty is set).
type twoMinds struct {
	*listing
	dirty atomic.Bool
}

func (d *twoMinds) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := d.listing.ChangedSince(ctx, since, limit)
	for _, m := range ms {
		if m.Key == aliceKey && d.dirty.Load() {
			m.Standing.Deleted = true
		}
	}
	return ms, next, err
}

// TestPollUnconfirmedIsNotAFailure (session 27, review s26 R3-7): a member whose refusal the
// second read does not confirm is "unconfirmed" in the poll as in the reconcile: held and then
// retried by key like a failing member, but warned of once per streak (not at each poll, even
// across a restart), never logged at error ("keeps failing"), and counted apart. A new streak
// (after a sync that worked) is warned of again.
func TestPollUnconfirmedIsNotAFailure(t *testing.T) {
	r := newReconcileFixture(t)
	var out lockedLog
	ctx := t.Context()
	start := time.Now()
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	r.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	if err := r.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ams := &twoMinds{listing: r.list}
	ams.dirty.Store(true)
	r.opts.Directory = ams
	r.opts.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.start()
	r.dir.Touch("alice", start.Add(-10*time.Minute))
	const warning = "refused by one read of the AMS and allowed by the next"
	for poll := 1; poll <= 3; poll++ {
		if poll == 3 {
			r.start() // the streak is in the store
		}
		if _, err := r.svc.Poll(ctx); !errors.Is(err, provisioning.ErrRefusalUnconfirmed) {
			t.Fatalf("poll %d: %v; want alice's refusal unconfirmed", poll, err)
		}
		clock.Add(int64(10 * time.Minute))
	}
	log := out.String()
	if n := strings.Count(log, warning); n != 1 {
		t.Errorf("the unconfirmed refusal warned of %d times in 3 polls of one streak; want once:\n%s", n, log)
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("an unconfirmed member logged at error:\n%s", log)
	}
	l, err := r.st.PollRetries(ctx)
	if err != nil || len(l) != 1 || !l[0].Unconfirmed || l[0].Attempts != 3 {
		t.Fatalf("retry list after 3 unconfirmed polls: %+v, %v; want alice, unconfirmed, 3 attempts", l, err)
	}
	if r.aliceEnded() {
		t.Fatal("alice ended on reads that disagree")
	}
	// Once the watermark is past her change (after the restart, two minutes of the AMS's
	// clock as the process sees it), the retry by key reads her as she is: synced, the streak
	// over, still warned of once.
	for poll := 4; ; poll++ {
		_, err := r.svc.Poll(ctx)
		clock.Add(int64(10 * time.Minute))
		if err == nil {
			break
		}
		if !errors.Is(err, provisioning.ErrRefusalUnconfirmed) || poll == 6 {
			t.Fatalf("poll %d: %v; want alice synced by the retry by key", poll, err)
		}
	}
	if log := out.String(); strings.Count(log, warning) != 1 || strings.Contains(log, "level=ERROR") {
		t.Fatalf("one streak: want one warning, no error:\n%s", log)
	}
	if l, err := r.st.PollRetries(ctx); err != nil || len(l) != 0 {
		t.Fatalf("retry list after the retry synced alice: %+v, %v", l, err)
	}
	// A new change read as deleted again: a new streak, warned of again.
	r.dir.Touch("alice", time.Unix(0, clock.Load()).Add(-time.Minute))
	if _, err := r.svc.Poll(ctx); !errors.Is(err, provisioning.ErrRefusalUnconfirmed) {
		t.Fatalf("poll 5: %v; want alice's refusal unconfirmed", err)
	}
	if n := strings.Count(out.String(), warning); n != 2 {
		t.Errorf("a new streak: %d warnings in all; want 2:\n%s", n, out.String())
	}
}
