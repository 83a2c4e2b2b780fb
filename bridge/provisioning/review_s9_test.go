package provisioning_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
)

// heldListing hands out its reconcile page as the AMS listed it, then holds it until go is
// closed: a reconcile page read before a change and written after it.
type heldListing struct {
	*listing
	listed  chan struct{}
	proceed chan struct{}
}

func (l *heldListing) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := l.listing.ListMembers(ctx, afterKey, limit)
	if afterKey == "" {
		close(l.listed)
		<-l.proceed
	}
	return ms, err
}

// TestPollAndReconcileOnTwoReplicas (review s9 Z4): change polling and the reconcile hold two
// different leases, so with replicas on one PostgreSQL they can run at the same time on two
// machines, where the process-local mutex that keeps a reconcile page from writing over a
// newer poll does not reach. A page listed before a member was disabled, written after the
// poll on the other replica deactivated them, re-activated their shadow user at the app
// (user.updated, active) until the next pass. The two Services here share the store and the
// job lock, as two replicas share the database and its advisory locks.
func TestPollAndReconcileOnTwoReplicas(t *testing.T) {
	r := newReconcileFixture(t)
	lock := &provisioning.LocalLock{}
	r.opts.Lock = lock
	r.start()
	poller := r.svc
	held := &heldListing{listing: r.list, listed: make(chan struct{}), proceed: make(chan struct{})}
	r.opts.Directory = held
	r.start()
	reconciler := r.svc

	pass := make(chan error, 1)
	go func() { _, err := reconciler.Reconcile(t.Context()); pass <- err }()
	<-held.listed // the page has alice active
	r.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	polled := make(chan error, 1)
	go func() { _, err := poller.Poll(t.Context()); polled <- err }()
	select {
	case err := <-polled: // no exclusion between the replicas: the poll wrote first
		if err != nil {
			t.Fatal(err)
		}
		polled <- nil
	case <-time.After(300 * time.Millisecond): // the poll waits for the page
	}
	close(held.proceed)
	if err := <-pass; err != nil {
		t.Fatal(err)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if !r.aliceEnded() {
		t.Fatal("alice's session and tokens were not ended")
	}
	if u := r.shadowUser(aliceSub); u.Active {
		t.Fatalf("alice's shadow user is active again after she was disabled; events: %v", r.queued())
	}
}

// heldLookup hands out alice as the AMS has her, then holds the answer until proceed is
// closed: a sign-in's just-in-time provisioning that read the member before a change and
// writes the shadow user after it.
// Only the first read of alice is held; reads counts them.
type heldLookup struct {
	*listing
	read    chan struct{}
	proceed chan struct{}
	reads   atomic.Int32
}

func (l *heldLookup) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	m, err := l.listing.MemberByKey(ctx, key)
	if key == aliceKey && l.reads.Add(1) == 1 {
		close(l.read)
		<-l.proceed
	}
	return m, err
}

// TestProvisionAndPollOnTwoReplicas (review s9 Z4, not covered there): a sign-in's
// just-in-time Provision reads the member and writes the shadow user; without the sync lock
// that polling and the reconcile hold, a deactivation a poll on another replica wrote between
// that read and that write was undone (user.updated, active) until the next change or pass.
// Both ways of Provision: without the sync lock (the sync epoch even: the poll does not wait,
// it moves the epoch, and the sign-in's write is refused and it reads alice again), and under
// it (the epoch odd, as a poll that died leaves it: the poll waits for the sign-in).
func TestProvisionAndPollOnTwoReplicas(t *testing.T) {
	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) { testProvisionAndPollOnTwoReplicas(t, locked) })
	}
}

func testProvisionAndPollOnTwoReplicas(t *testing.T, locked bool) {
	r := newReconcileFixture(t)
	r.opts.Lock = &provisioning.LocalLock{}
	r.start()
	poller := r.svc
	if _, err := poller.Poll(t.Context()); err != nil { // the epoch even
		t.Fatal(err)
	}
	if locked {
		epoch, err := r.st.Watermark(t.Context(), provisioning.SyncEpoch)
		if err != nil || epoch.UnixNano()%2 != 0 {
			t.Fatalf("sync epoch after a poll: %v (%d), %v", epoch, epoch.UnixNano(), err)
		}
		if err := r.st.SetWatermark(t.Context(), provisioning.SyncEpoch, epoch.Add(1)); err != nil {
			t.Fatal(err)
		}
	}
	held := &heldLookup{listing: r.list, read: make(chan struct{}), proceed: make(chan struct{})}
	r.opts.Directory = held
	r.start()
	signIn := r.svc
	defer func() {
		if want := map[bool]int32{false: 2, true: 1}[locked]; held.reads.Load() != want {
			t.Errorf("the sign-in read alice %d times, want %d", held.reads.Load(), want)
		}
	}()

	provisioned := make(chan error, 1)
	go func() { provisioned <- signIn.Provision(t.Context(), "portal", aliceSub, nil) }()
	<-held.read // the sign-in has alice active
	r.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	polled := make(chan error, 1)
	go func() { _, err := poller.Poll(t.Context()); polled <- err }()
	select {
	case err := <-polled: // no exclusion: the poll wrote first
		if err != nil {
			t.Fatal(err)
		}
		polled <- nil
	case <-time.After(300 * time.Millisecond): // the poll waits for the sign-in's write
	}
	close(held.proceed)
	if err := <-provisioned; err != nil {
		t.Fatal(err)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if !r.aliceEnded() {
		t.Fatal("alice's session and tokens were not ended")
	}
	if u := r.shadowUser(aliceSub); u.Active {
		t.Fatalf("alice's shadow user is active again after she was disabled; events: %v", r.queued())
	}
}

// TestProvisionReadsTheAMSNotTheCache (review s9 Z4, not covered there): on replicas, a poll on
// one machine deactivates a member but does not touch the profile cache of another, which still
// holds the member as the sign-in read them. Provision on that other replica must read the
// member from the AMS: from the cache it re-activated the shadow user the poll had just
// deactivated.
func TestProvisionReadsTheAMSNotTheCache(t *testing.T) {
	r := newReconcileFixture(t)
	r.opts.Lock = &provisioning.LocalLock{}
	r.start()
	poller := r.svc
	cached := cache.New(r.list, cache.Options{TTL: time.Hour})
	r.opts.Directory = cached
	r.start()
	signIn := r.svc
	ctx := t.Context()
	if m, err := cached.MemberByKey(ctx, aliceKey); err != nil || m.Standing.Disabled {
		t.Fatalf("warm the cache: %+v %v", m, err)
	}
	r.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	if _, err := poller.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if u := r.shadowUser(aliceSub); u.Active {
		t.Fatal("the poll did not deactivate alice")
	}
	if err := signIn.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	if u := r.shadowUser(aliceSub); u.Active {
		t.Fatalf("Provision re-activated alice from the cache; events: %v", r.queued())
	}
}
