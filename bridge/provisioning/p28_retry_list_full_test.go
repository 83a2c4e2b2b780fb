package provisioning_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestPollFullRetryListHoldsTheWatermark (session 28, P; review s27 R5-6 a): with the retry list
// full (MaxPollRetries members, none due), a further failing member was "left to the reconcile":
// neither listed nor held, so the watermark moved past its change at once and, with
// reconcile_interval: 0, nothing read it again. Now it holds the watermark before its change,
// poll after poll, until the list has room; then it is listed (and retried by key like any
// other), and synced once its fault is mended.
func TestPollFullRetryListHoldsTheWatermark(t *testing.T) {
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
	f.dir.Clock = f.opts.Now
	f.opts.Config.ReconcileInterval = 0
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The list full of other members, retried by key in a day (not by these polls).
	fill := make([]store.PollRetry, provisioning.MaxPollRetries)
	for i := range fill {
		fill[i] = store.PollRetry{MemberKey: fmt.Sprintf("F%07d-0000-4000-8000-000000000000", i), Attempts: 4, NextTry: start.Add(24 * time.Hour)}
	}
	if err := f.st.SetPollProgress(ctx, provisioning.WatermarkName, time.Time{}, fill, nil, store.Fence{}); err != nil {
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

	listed := func() *store.PollRetry {
		t.Helper()
		l, err := f.st.PollRetries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range l {
			if l[i].MemberKey == aliceKey {
				return &l[i]
			}
		}
		return nil
	}
	poll := func(n int) {
		t.Helper()
		if _, err := f.svc.Poll(ctx); err == nil {
			t.Fatalf("poll %d: no error; want alice's failure named", n)
		}
		mark, err := f.st.Watermark(ctx, provisioning.WatermarkName)
		if err != nil {
			t.Fatal(err)
		}
		if !mark.Before(changed) {
			t.Fatalf("after poll %d the watermark is %s, past alice's change %s; want it held while she is not listed",
				n, mark.Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano))
		}
		clock.Add(int64(10 * time.Minute))
	}
	for n := 1; n <= 5; n++ {
		poll(n)
		if r := listed(); r != nil {
			t.Fatalf("after poll %d alice is listed (%+v) on a full list", n, r)
		}
	}
	// A slot frees (one member synced by the reconcile, say): the next poll lists her.
	if err := f.st.SetPollProgress(ctx, provisioning.WatermarkName, time.Time{}, nil, []string{fill[0].MemberKey}, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	poll(6)
	if r := listed(); r == nil || r.Attempts != 1 {
		t.Fatalf("after a slot freed alice's row is %+v; want her listed, 1 attempt", r)
	}
	broken.Store(false) // mended: her change (still after the watermark) is synced
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatalf("poll after the fix: %v", err)
	}
	if got := (&reconcileFixture{fixture: f}).userName(aliceSub); got != "Alice Renamed" {
		t.Fatalf("alice at the portal: %q; want her change synced", got)
	}
	if r := listed(); r != nil {
		t.Fatalf("alice still listed after her sync: %+v", r)
	}
}
