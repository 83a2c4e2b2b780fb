package provisioning_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestR3PollErrorNotHiddenByAnUnconfirmedRefusal (review s26 R3-3, the seam of N and F): F's
// poll goes on past a failing member and returns every member's error joined; N's runPoller
// logs any poll error that wraps ErrRefusalUnconfirmed at info, as "poll stopped at a member
// whose refusal was not confirmed". So one member's unconfirmed refusal (alice, one dirty read)
// in the same poll as the reconcile_max_gone stop (bob and carol deleted, bound 1) says the
// stop, which asks the operator to act, at info only; and as the watermark then moves past the
// deletions (R3-1), it is never said again.
func TestR3PollErrorNotHiddenByAnUnconfirmedRefusal(t *testing.T) {
	r := newReconcileFixture(t)
	var out lockedLog
	now := time.Now()
	if err := r.st.SetWatermark(t.Context(), provisioning.WatermarkName, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// bob has something to end: only such gone members count (review s27 R5-2).
	(&ssotest.H{T: t, S: r.st, Ctx: t.Context(), Now: ssotest.Now()}).CreateSession("sub-bob", "portal")
	r.dir.Remove("bob")
	r.dir.Remove("carol")
	ams := &flicker{listing: r.list, dirty: 1}
	r.opts.Directory = &reportsGone{Directory: ams, keys: []string{"22222222-2222-2222-2222-222222222222", carolKey}, at: now.Add(-10 * time.Minute)}
	r.opts.Config.ReconcileMaxGone = 1
	r.opts.Config.ReconcileInterval = 0
	r.opts.Config.PollInterval = 5 * time.Millisecond
	r.opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
	r.start()
	r.dir.Touch("alice", now)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.svc.Run(ctx) }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "reconcile_max_gone"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no poll error naming reconcile_max_gone:\n%s", out.String())
		}
	}
	time.Sleep(100 * time.Millisecond) // more polls
	cancel()
	<-done
	// Every poll says the stop at error level (helper I: since R3-1's mend the stop repeats at
	// each poll, so "some line at ERROR" no longer tells; the first poll, with alice's
	// unconfirmed refusal in it, must say it at ERROR too). Nor does any line say the poll
	// "stopped at" a member: it goes on past them.
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "reconcile_max_gone") && !strings.Contains(line, "level=ERROR") {
			t.Errorf("the poll's reconcile_max_gone stop logged below error: %s", line)
		}
		if strings.Contains(line, "stopped at a member") {
			t.Errorf("a poll line says the poll stopped at a member: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out.String())
	}
}
