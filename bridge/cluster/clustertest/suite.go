package clustertest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
)

// Options are what the suite asks of an implementation's nodes.
type Options struct {
	// Fallback is the interval subscribers are called at without a notification.
	Fallback time.Duration
}

// Join returns a new node (replica) of the cluster it was made for; the suite closes it.
type Join func(t *testing.T) cluster.Node

// New makes a fresh cluster (its own database) whose nodes use o, and returns how to join it.
type New func(t *testing.T, o Options) Join

// bound is how long the suite waits for something that must happen (a liveness bound, not a
// performance assertion).
const bound = 30 * time.Second

// noFallback keeps fallback calls out of tests that count notifications.
var noFallback = Options{Fallback: time.Hour}

// Run runs the conformance suite against an implementation.
func Run(t *testing.T, newCluster New) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, New)
	}{
		{"TryLockIsExclusive", testTryLockExclusive},
		{"LeadIsExclusive", testLeadExclusive},
		{"LeadRunsAgainAfterFnReturns", testLeadAgain},
		{"TakeoverWhenHolderDies", testTakeover},
		{"LeadReturnsWhenCtxEnds", testLeadReturns},
		{"NotifyReachesEveryNode", testNotify},
		{"NotifyCallsItsOwnNodeBeforeReturning", testNotifyOwnNodeAtOnce},
		{"NotifyWithCancelledContext", testNotifyCancelled},
		{"NotifyOnlyItsTopic", testNotifyTopic},
		{"UnsubscribedIsNotCalled", testUnsubscribe},
		{"FallbackCallsWithoutNotify", testFallback},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCluster) })
	}
}

func join(t *testing.T, j Join) cluster.Node {
	t.Helper()
	n := j(t)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("%s did not happen within %s", what, bound)
	}
}

func testTryLockExclusive(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx := ctxT(t)
	rel, ok, err := a.TryLock(ctx, "job")
	if err != nil || !ok {
		t.Fatalf("first TryLock: ok=%v err=%v", ok, err)
	}
	for name, n := range map[string]cluster.Node{"another node": b, "the same node": a} {
		if _, ok, err := n.TryLock(ctx, "job"); err != nil || ok {
			t.Fatalf("TryLock on %s while held: ok=%v err=%v", name, ok, err)
		}
	}
	rel2, ok, err := b.TryLock(ctx, "other job")
	if err != nil || !ok {
		t.Fatalf("another name: ok=%v err=%v", ok, err)
	}
	rel2()
	rel()
	rel() // a second release is harmless
	rel3, ok, err := b.TryLock(ctx, "job")
	if err != nil || !ok {
		t.Fatalf("TryLock after release: ok=%v err=%v", ok, err)
	}
	rel3()
}

// leader records which node runs a lease's fn.
type leader struct {
	running atomic.Int32
	overlap atomic.Bool
	in      chan string
}

func newLeader() *leader { return &leader{in: make(chan string, 16)} }

// fn holds the lease until its context ends.
func (l *leader) fn(name string) func(context.Context) {
	return func(ctx context.Context) {
		if l.running.Add(1) > 1 {
			l.overlap.Store(true)
		}
		l.in <- name
		<-ctx.Done()
		l.running.Add(-1)
	}
}

func (l *leader) next(t *testing.T) string {
	t.Helper()
	select {
	case n := <-l.in:
		return n
	case <-time.After(bound):
		t.Fatalf("no node took the lease within %s", bound)
		return ""
	}
}

func testLeadExclusive(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b, c := join(t, j), join(t, j), join(t, j)
	ctx := ctxT(t)
	l := newLeader()
	var wg sync.WaitGroup
	defer wg.Wait()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	for name, n := range map[string]cluster.Node{"a": a, "b": b} {
		wg.Add(1)
		go func() { defer wg.Done(); n.Lead(lctx, "poller", l.fn(name)) }()
	}
	l.next(t)
	// While one node leads, the lease is taken for everyone else.
	if _, ok, err := c.TryLock(ctx, "poller"); err != nil || ok {
		t.Fatalf("TryLock while a node leads: ok=%v err=%v", ok, err)
	}
	if l.overlap.Load() {
		t.Fatal("two nodes ran the lease's fn at once")
	}
}

func testLeadAgain(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, c := join(t, j), join(t, j)
	ctx := ctxT(t)
	runs := make(chan struct{}, 8)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Lead(lctx, "rotate", func(context.Context) { runs <- struct{}{} })
	}()
	wait(t, runs, "the first run")
	wait(t, runs, "a second run after the first returned")
	stop()
	wait(t, done, "Lead returning after its context ended")
	// Returned: the lease is free.
	rel, ok, err := c.TryLock(ctx, "rotate")
	if err != nil || !ok {
		t.Fatalf("lease not free after Lead returned: ok=%v err=%v", ok, err)
	}
	rel()
}

func testTakeover(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx, cancel := context.WithCancel(ctxT(t))
	l := newLeader()
	lost := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() {
		defer wg.Done()
		a.Lead(ctx, "reconcile", func(ctx context.Context) {
			l.fn("a")(ctx)
			close(lost)
		})
	}()
	if got := l.next(t); got != "a" {
		t.Fatalf("first leader %q", got)
	}
	go func() { defer wg.Done(); b.Lead(ctx, "reconcile", l.fn("b")) }()
	_ = a.Close() // the holder dies
	wait(t, lost, "the dead holder's fn seeing its lease lost")
	if got := l.next(t); got != "b" {
		t.Fatalf("takeover by %q, want b", got)
	}
	if l.overlap.Load() {
		t.Fatal("two nodes ran the lease's fn at once")
	}
}

func testLeadReturns(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a := join(t, j)
	l := newLeader()
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan struct{})
	go func() { defer close(done); a.Lead(ctx, "purge", l.fn("a")) }()
	l.next(t)
	cancel()
	wait(t, done, "Lead returning after its context ended")
	if l.running.Load() != 0 {
		t.Fatal("Lead returned while fn still ran")
	}
}

// counter counts the calls of a subscriber and signals each.
type counter struct {
	n  atomic.Int32
	ch chan struct{}
}

func newCounter() *counter { return &counter{ch: make(chan struct{}, 64)} }

func (c *counter) fn(context.Context) error {
	c.n.Add(1)
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

func testNotify(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx := ctxT(t)
	onA, onB := newCounter(), newCounter()
	a.Subscribe(cluster.TopicClients, onA.fn)
	b.Subscribe(cluster.TopicClients, onB.fn)
	settle(t, ctx, a, []cluster.Node{a, b}, onA, onB)
	if err := a.Notify(ctx, cluster.TopicClients); err != nil {
		t.Fatal(err)
	}
	wait(t, onB.ch, "the other node's subscriber being called")
	wait(t, onA.ch, "the notifying node's own subscriber being called")
}

// testNotifyOwnNodeAtOnce: the notifying node's subscribers have run when Notify returns, so a
// replica that changed something (an admin request registering a client) serves it at once
// (session 23's CI: replica A answered "unknown client" 17 ms after registering it, its own
// notification not yet back from PostgreSQL's LISTEN connection).
func testNotifyOwnNodeAtOnce(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx := ctxT(t)
	onA := newCounter()
	a.Subscribe(cluster.TopicClients, onA.fn)
	settle(t, ctx, a, []cluster.Node{a, b}, onA)
	for i := range 20 { // the listener's call could win a race once; not twenty times
		n0 := onA.n.Load()
		if err := a.Notify(ctx, cluster.TopicClients); err != nil {
			t.Fatal(err)
		}
		if onA.n.Load() == n0 {
			t.Fatalf("notification %d: the notifying node's subscriber had not run when Notify returned", i+1)
		}
	}
}

// testNotifyCancelled (review s24 X-5): a Notify whose context is already cancelled (the admin
// request that made the change gave up after the commit) still calls the notifying node's
// subscriber before it returns, on a context that is live, bounded and keeps ctx's values, and
// still reaches the other node. A subscriber given the cancelled context fails, as a store
// read does, and the client registry kept that failure until its next reload.
func testNotifyCancelled(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	onA, onB := newCounter(), newCounter()
	type key struct{}
	var (
		mu   sync.Mutex
		errs []error
	)
	a.Subscribe(cluster.TopicClients, func(ctx context.Context) error {
		err := ctx.Err() // what a store read with ctx fails with
		_, bounded := ctx.Deadline()
		switch {
		case err != nil:
		case !bounded:
			err = errors.New("called without a deadline")
		case ctx.Value(key{}) == nil:
			err = errors.New("called without the notifier's context values")
		}
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		return onA.fn(ctx)
	})
	b.Subscribe(cluster.TopicClients, onB.fn)
	settle(t, ctxT(t), a, []cluster.Node{a, b}, onA, onB)
	ctx, cancel := context.WithCancel(context.WithValue(ctxT(t), key{}, "request"))
	cancel()
	mu.Lock()
	errs = nil
	mu.Unlock()
	n0 := onA.n.Load()
	if err := a.Notify(ctx, cluster.TopicClients); err != nil {
		t.Fatalf("Notify with a cancelled context: %v", err)
	}
	if onA.n.Load() == n0 {
		t.Fatal("the notifying node's subscriber had not run when Notify returned")
	}
	// The node's listener may also have called it by now (with its own context, no deadline):
	// one call of those made, Notify's, must have passed.
	mu.Lock()
	calls := errs
	mu.Unlock()
	ok := false
	for _, err := range calls {
		ok = ok || err == nil
	}
	if !ok {
		t.Fatalf("the notifying node's subscriber, called %d times by Notify's return: none with a live, bounded context keeping the caller's values: %v", len(calls), calls)
	}
	wait(t, onB.ch, "the other node's subscriber being called")
}

// settle returns once every node listens and has called its subscribers for its start-up (a
// listener calls them all when it connects): it notifies a sentinel topic from a until each
// node's sentinel subscriber was called, then empties the counters' signals.
func settle(t *testing.T, ctx context.Context, a cluster.Node, nodes []cluster.Node, cs ...*counter) {
	t.Helper()
	var pending []*counter
	for _, n := range nodes {
		c := newCounter()
		n.Subscribe("sentinel", c.fn)
		pending = append(pending, c)
	}
	deadline := time.Now().Add(bound)
	for _, c := range pending {
		for c.n.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("nodes not listening within %s", bound)
			}
			if err := a.Notify(ctx, "sentinel"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.ch:
			case <-time.After(100 * time.Millisecond): // not yet listening: notify again
			}
		}
	}
	for _, c := range cs {
		for len(c.ch) > 0 {
			<-c.ch
		}
	}
}

func testNotifyTopic(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx := ctxT(t)
	keys, clients := newCounter(), newCounter()
	b.Subscribe(cluster.TopicKeys, keys.fn)
	b.Subscribe(cluster.TopicClients, clients.fn)
	settle(t, ctx, a, []cluster.Node{b}, keys, clients)
	k0, c0 := keys.n.Load(), clients.n.Load()
	if err := a.Notify(ctx, cluster.TopicKeys); err != nil {
		t.Fatal(err)
	}
	wait(t, keys.ch, "the keys subscriber being called")
	// Notifications are dispatched in order: once a later one arrived, the earlier one's
	// dispatch is complete.
	if err := a.Notify(ctx, cluster.TopicKeys); err != nil {
		t.Fatal(err)
	}
	wait(t, keys.ch, "the second keys notification")
	if keys.n.Load()-k0 != 2 || clients.n.Load() != c0 {
		t.Fatalf("keys called %d times (want 2), clients %d (want 0)", keys.n.Load()-k0, clients.n.Load()-c0)
	}
}

func testUnsubscribe(t *testing.T, nc New) {
	j := nc(t, noFallback)
	a, b := join(t, j), join(t, j)
	ctx := ctxT(t)
	gone, stays := newCounter(), newCounter()
	cancel := b.Subscribe(cluster.TopicClients, gone.fn)
	b.Subscribe(cluster.TopicClients, stays.fn)
	settle(t, ctx, a, []cluster.Node{b}, gone, stays)
	g0 := gone.n.Load()
	cancel()
	if err := a.Notify(ctx, cluster.TopicClients); err != nil {
		t.Fatal(err)
	}
	wait(t, stays.ch, "the remaining subscriber being called")
	if err := a.Notify(ctx, cluster.TopicClients); err != nil {
		t.Fatal(err)
	}
	wait(t, stays.ch, "the second notification")
	if n := gone.n.Load() - g0; n != 0 {
		t.Fatalf("an unsubscribed function was called %d times", n)
	}
}

func testFallback(t *testing.T, nc New) {
	j := nc(t, Options{Fallback: 50 * time.Millisecond})
	b := join(t, j)
	c := newCounter()
	b.Subscribe(cluster.TopicClients, c.fn)
	for i := range 3 {
		select {
		case <-c.ch:
		case <-time.After(bound):
			t.Fatalf("fallback call %d did not happen within %s", i+1, bound)
		}
	}
}
