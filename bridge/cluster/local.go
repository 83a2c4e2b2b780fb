package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LocalOptions configure a Local node.
type LocalOptions struct {
	// Retry is how long Lead waits before taking a lease again after its fn returned (and at
	// most between tries while another node holds it); default 1 s.
	Retry time.Duration
	// Fallback is how often subscribers are called without a notification, so that changes
	// made by another process on the same store (the CLI) are found by their version check;
	// default 2 s, negative for never.
	Fallback time.Duration
	// Logger receives subscriber errors (default slog.Default()).
	Logger *slog.Logger
}

// Local is the in-process cluster: one bridge process, or several replicas in one process
// (tests) made with Replica. Its nodes share leases and notifications.
type Local struct {
	hub    *localHub
	opt    LocalOptions
	ctx    context.Context // cancelled by Close: ends this node's leases and subscriptions
	cancel context.CancelFunc

	mu       sync.Mutex
	fallback bool // the fallback goroutine runs
	wg       sync.WaitGroup
}

// localHub is what a Local and its replicas share.
type localHub struct {
	mu       sync.Mutex
	owners   map[string]localOwner
	released chan struct{} // closed (and replaced) whenever a lease is released
	subs     map[int]*localSub
	next     int
}

// localOwner holds a lease: by Lead (released by Lead once its fn returned) or by TryLock
// (released by Close too).
type localOwner struct {
	node *Local
	lead bool
}

type localSub struct {
	node  *Local
	topic string
	fn    func(context.Context) error
}

// NewLocal returns a single-process node.
func NewLocal(o LocalOptions) *Local {
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Fallback == 0 {
		o.Fallback = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return newLocal(&localHub{owners: map[string]localOwner{}, released: make(chan struct{}), subs: map[int]*localSub{}}, o)
}

func newLocal(h *localHub, o LocalOptions) *Local {
	ctx, cancel := context.WithCancel(context.Background())
	return &Local{hub: h, opt: o, ctx: ctx, cancel: cancel}
}

// Replica returns another node sharing l's leases and notifications (a second replica in
// this process).
func (l *Local) Replica() *Local { return newLocal(l.hub, l.opt) }

// take takes the lease for l when it is free; it returns the channel closed at the next
// release otherwise.
func (h *localHub) take(name string, l *Local, lead bool) (bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l.ctx.Err() != nil {
		return false, h.released
	}
	if _, held := h.owners[name]; held {
		return false, h.released
	}
	h.owners[name] = localOwner{node: l, lead: lead}
	return true, nil
}

func (h *localHub) release(name string, l *Local) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owners[name].node == l {
		delete(h.owners, name)
		close(h.released)
		h.released = make(chan struct{})
	}
}

// TryLock implements Leases.
func (l *Local) TryLock(_ context.Context, name string) (func(), bool, error) {
	ok, _ := l.hub.take(name, l, false)
	if !ok {
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { l.hub.release(name, l) }) }, true, nil
}

// Lead implements Leases.
func (l *Local) Lead(ctx context.Context, name string, fn func(context.Context)) {
	ctx, stop := mergeCancel(ctx, l.ctx) // Close ends it
	defer stop()
	for ctx.Err() == nil {
		ok, released := l.hub.take(name, l, true)
		if !ok {
			t := time.NewTimer(l.opt.Retry)
			select {
			case <-ctx.Done():
			case <-released:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		fn(ctx)
		l.hub.release(name, l)
		if !sleep(ctx, l.opt.Retry) {
			return
		}
	}
}

// localNotifyBound bounds each subscriber Local.Notify calls. The store bounds its own
// statements; this ends a subscriber that would wait on something else.
const localNotifyBound = 30 * time.Second

// Notify implements Notifier: this process's subscribers of topic are called before it
// returns, on ctx without its cancellation, each bounded by localNotifyBound: the change is
// committed whether or not the caller still waits, and a subscriber called with a cancelled
// context fails and keeps its cache stale (review s24 X-5).
func (l *Local) Notify(ctx context.Context, topic string) error {
	ctx = context.WithoutCancel(ctx)
	for _, s := range l.hub.subscribers(topic) {
		sctx, cancel := context.WithTimeout(ctx, localNotifyBound)
		s.call(sctx)
		cancel()
	}
	return nil
}

func (h *localHub) subscribers(topic string) []*localSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*localSub
	for _, s := range h.subs {
		if s.topic == topic && s.node.ctx.Err() == nil {
			out = append(out, s)
		}
	}
	return out
}

func (s *localSub) call(ctx context.Context) {
	if err := s.fn(ctx); err != nil {
		s.node.opt.Logger.ErrorContext(ctx, "cluster: refresh after a change failed", "topic", s.topic, "err", err)
	}
}

// Subscribe implements Notifier.
func (l *Local) Subscribe(topic string, fn func(context.Context) error) func() {
	h := l.hub
	h.mu.Lock()
	id := h.next
	h.next++
	h.subs[id] = &localSub{node: l, topic: topic, fn: fn}
	h.mu.Unlock()
	l.startFallback()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// startFallback starts the goroutine that calls this node's subscribers every Fallback.
func (l *Local) startFallback() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fallback || l.opt.Fallback < 0 || l.ctx.Err() != nil {
		return
	}
	l.fallback = true
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for sleep(l.ctx, l.opt.Fallback) {
			for _, s := range l.hub.mine(l) {
				s.call(l.ctx)
			}
		}
	}()
}

func (h *localHub) mine(l *Local) []*localSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*localSub
	for _, s := range h.subs {
		if s.node == l {
			out = append(out, s)
		}
	}
	return out
}

// Close implements Node: leases held by this node are lost (their fn's context is
// cancelled; Lead releases each once its fn returned), its TryLock leases are released and its
// subscribers are no longer called.
func (l *Local) Close() error {
	l.cancel()
	l.hub.mu.Lock()
	for name, o := range l.hub.owners {
		if o.node == l && !o.lead {
			delete(l.hub.owners, name)
		}
	}
	close(l.hub.released)
	l.hub.released = make(chan struct{})
	for id, s := range l.hub.subs {
		if s.node == l {
			delete(l.hub.subs, id)
		}
	}
	l.hub.mu.Unlock()
	l.wg.Wait()
	return nil
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
