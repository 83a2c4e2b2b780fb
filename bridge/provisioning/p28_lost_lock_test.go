package provisioning_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// midScan is an AMS whose first change scan runs during before it answers.
type midScan struct {
	*bridgetest.Directory
	once   sync.Once
	during func()
}

func (d *midScan) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	d.once.Do(d.during)
	return d.Directory.ChangedSince(ctx, since, limit)
}

// TestPollThatLostTheLockWritesNoProgress (session 28, P; review s27 R5-6 b): replica A's poll
// loses the sync lock mid-scan (on PostgreSQL its advisory lock's session ended), and replica
// B takes it and polls: alice's sync fails there (B's access rule errors), so B lists her on
// the retry list (2 attempts) and holds the watermark before her change. A, which read alice
// before, then syncs her and would write its progress over B's: her row deleted (B's record of
// her failure lost) and its own watermark. Now A's write is fenced by the sync epoch it set
// when it took the lock, which B moved: A writes nothing, says why (store.ErrFenced), and
// leaves the sync epoch as B left it (its end no longer moves the epoch from B's value).
// Here each replica has its own lock (a LocalLock each), as two replicas whose shared lock
// one of them lost.
func TestPollThatLostTheLockWritesNoProgress(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, start.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetPollProgress(ctx, provisioning.WatermarkName, time.Time{}, []store.PollRetry{{MemberKey: aliceKey, Attempts: 1}}, nil, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	changed := start.Add(-30 * time.Second)
	f.dir.Update("alice", func(m *legacy.Member) { m.FullName = "Alice Renamed" })
	f.dir.Touch("alice", changed)

	// Replica B: alice's sync fails there.
	var broken atomic.Bool
	broken.Store(true)
	ob := f.opts
	ob.Store = f.st
	ob = withOutbox(ob, f.clients, f.keys)
	ob.Access = switchedRule{Decider: ob.Access, broken: &broken}
	b := provisioning.New(ob)
	var bErr error
	var bMark, bEpoch time.Time
	var bList []store.PollRetry

	// Replica A: its scan lets B poll first (A's lock lost, B took it).
	scan := &midScan{Directory: f.dir, during: func() {
		if _, bErr = b.Poll(ctx); bErr == nil {
			return // reported below
		}
		bMark, _ = f.st.Watermark(ctx, provisioning.WatermarkName)
		bEpoch, _ = f.st.Watermark(ctx, provisioning.SyncEpoch)
		bList, _ = f.st.PollRetries(ctx)
	}}
	f.opts.Directory = scan
	f.start()
	_, err := f.svc.Poll(ctx)
	if bErr == nil {
		t.Fatal("B's poll: no error; want alice's failure")
	}
	if len(bList) != 1 || bList[0].MemberKey != aliceKey || bList[0].Attempts != 2 || !bMark.Before(changed) {
		t.Fatalf("after B's poll: retry list %+v, watermark %s; want alice with 2 attempts, the watermark before her change %s", bList, bMark, changed)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's poll: %v; want its progress refused (store.ErrFenced)", err)
	}
	list, err := f.st.PollRetries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0] != bList[0] {
		t.Errorf("retry list after A's poll: %+v; want B's %+v", list, bList)
	}
	if mark, _ := f.st.Watermark(ctx, provisioning.WatermarkName); !mark.Equal(bMark) {
		t.Errorf("watermark after A's poll: %s; want B's %s", mark, bMark)
	}
	if epoch, _ := f.st.Watermark(ctx, provisioning.SyncEpoch); !epoch.Equal(bEpoch) || epoch.UnixNano()%2 != 0 {
		t.Errorf("sync epoch after A's poll: %d; want B's even %d", epoch.UnixNano(), bEpoch.UnixNano())
	}
}
