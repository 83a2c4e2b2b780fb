package provisioning_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// epochReadStall is replica A's store: right after A reads the sync epoch at the start of its
// sync (before it moves it), it runs during once: A's process stalled there, its advisory
// lock's session ended, and replica B took the lock and did its work.
type epochReadStall struct {
	store.Store
	once   sync.Once
	during func()
}

func (s *epochReadStall) Watermark(ctx context.Context, name string) (time.Time, error) {
	v, err := s.Store.Watermark(ctx, name)
	if name == provisioning.SyncEpoch {
		s.once.Do(s.during)
	}
	return v, err
}

// TestR7LostLockBetweenEpochReadAndMove (review s28 R7-1): the fence of P's R5-6 (b) fix is
// the epoch value a holder sets when it takes the sync lock, and a fenced write is accepted
// when the epoch still equals it. But the move at the start of a sync is a plain write of a
// value computed from the one read: replica A reads the epoch, loses the lock, replica B takes
// it, moves the epoch, polls (alice's sync fails there: listed with 2 attempts, the watermark
// held before her change) and ends; then A's late write of its own epoch lands over B's. A's
// fence now matches, so A, which no longer holds the lock, writes its progress over B's (her
// retry row deleted, its own watermark), and leaves the epoch where A put it, not where B left
// it. The start's move must be a compare-and-set from the value read (refused: A writes
// nothing).
func TestR7LostLockBetweenEpochReadAndMove(t *testing.T) {
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

	// Replica B, with its own lock: alice's sync fails there.
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

	// Replica A: B polls between A's read of the epoch and A's move of it.
	f.opts.Store = &epochReadStall{Store: f.st, during: func() {
		if _, bErr = b.Poll(ctx); bErr == nil {
			return // reported below
		}
		bMark, _ = f.st.Watermark(ctx, provisioning.WatermarkName)
		bEpoch, _ = f.st.Watermark(ctx, provisioning.SyncEpoch)
		bList, _ = f.st.PollRetries(ctx)
	}}
	f.start()
	_, err := f.svc.Poll(ctx)
	if bErr == nil {
		t.Fatal("B's poll: no error; want alice's failure")
	}
	if len(bList) != 1 || bList[0].MemberKey != aliceKey || bList[0].Attempts != 2 || !bMark.Before(changed) {
		t.Fatalf("after B's poll: retry list %+v, watermark %s; want alice with 2 attempts, the watermark before her change %s", bList, bMark, changed)
	}
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("A's poll: %v; want it refused (store.ErrFenced): B moved the epoch after A read it", err)
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
	if epoch, _ := f.st.Watermark(ctx, provisioning.SyncEpoch); !epoch.Equal(bEpoch) {
		t.Errorf("sync epoch after A's poll: %d; want B's %d", epoch.UnixNano(), bEpoch.UnixNano())
	}
}
