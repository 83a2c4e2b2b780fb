package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Route is the deliverer of one client's provisioning target and its kind (the channel of
// the target's events).
type Route struct {
	Kind      string
	Deliverer Deliverer
}

// Options build a Queue.
type Options struct {
	Config Config
	Store  store.Store
	// Channels deliver the events of a channel for every client (back-channel logout).
	Channels map[string]Deliverer
	// Targets deliver each provisioning client's events of its target's kind.
	Targets map[string]Route
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer is told about each delivery attempt's outcome (metrics). Optional.
	Observer DeliveryObserver
}

// Outcomes of a delivery attempt (DeliveryObserver).
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry" // failed; retried later
	OutcomeDead      = "dead"  // failed; moved to the dead-letter state
	// OutcomeSuperseded: failed; a newer event of its key written while it was in flight
	// stands for it, so it is not retried (store.ErrSuperseded).
	OutcomeSuperseded = "superseded"
	// OutcomeSkipped: nothing was sent, the deliverer found nothing to send (ErrNothingToSend);
	// the event is done, not delivered.
	OutcomeSkipped = "skipped"
)

// DeliveryObserver is told about each delivery attempt: the event's channel, its client and
// the outcome (OutcomeDelivered, OutcomeRetry, OutcomeDead, OutcomeSuperseded, OutcomeSkipped).
type DeliveryObserver interface {
	Delivery(channel, clientID, outcome string)
}

// Queue claims due events and delivers them.
type Queue struct {
	cfg      Config
	store    store.Store
	channels map[string]Deliverer
	targets  map[string]Route
	log      *slog.Logger
	now      func() time.Time
	observer DeliveryObserver
	wake     chan struct{}
	lease    time.Duration
	workers  int
	// perClient caps one client's deliveries in flight (Run's and DeliverDue's): a target that
	// hangs until each request's timeout holds at most that many workers, and the other
	// clients' events (back-channel logouts at other apps) are claimed past its own (review s14
	//
	perClient int

	claimMu sync.Mutex // one claim at a time, so that no client passes perClient
	mu      sync.Mutex
	busy    map[string]int // deliveries in flight per client
	waiting map[string]int // sign-ins waiting for a place among their client's (DeliverKey)
	signIns map[string]int // of busy, the deliveries sign-ins claimed (DeliverKey)
	// failing holds the clients whose latest delivery (a worker's or DeliverKey's) failed slowly
	// and is retried (a target that does not answer, or answers 5xx after slowAfter), with when
	// it failed: the last free worker is not theirs (claim). A client is forgotten when a
	// delivery of its events says nothing more of its target (delivered, refused for good, failed
	// fast, its app removed: forget), when none of its
	// events is left pending (the last went dead: deliverClaimed; its app removed idle:
	// ForgetIdleClients), and failingFor after its failure (pruneFailing): no retry of its
	// events came since, so it holds at most the clients that failed within failingFor.
	failing    map[string]time.Time
	failingFor time.Duration
	// ended holds, per client, a channel closed when one of its deliveries here ends
	// (deliverClaimed): the sign-ins waiting in DeliverKey for a place among its deliveries or
	// for their own event's delivery wake on it. Made by the first waiter, closed and dropped by
	// the next end, and dropped when the last sign-in holding it leaves without one (endOf's
	// release): it holds at most the clients with a sign-in in DeliverKey. Before, a sign-in
	// that left without a delivery of its client ending (nothing to send, its event delivered by
	// another replica, its request gone) left its client's entry until the next end, for ever at
	// an app with no more deliveries here (removed).
	ended map[string]*endWait
	// A waiting sign-in looks at the store again on its own after recheckFirst, then twice as
	// late each time up to recheckMax: its event may be delivered by another replica, which no
	// channel here says (DeliverKey).
	recheckFirst, recheckMax time.Duration
	// turn holds the clients whose freed place is the queue's to try first, and since when: a
	// sign-in's delivery ended with none of the queue's in flight, another sign-in waiting, and
	// a worker of Run free to look at once and take it, not the last (deliverClaimed). The waiters wake once the queue's
	// next claim has looked (claim), or when turnFor has passed (a timer: the look did not
	// come, Run's claim held up by the store; a bound no test forces). A waiting sign-in wakes at once when a place frees, and would otherwise take each
	// place sign-ins free before the queue's next look (review s23 X-4). Without a free worker
	// the queue could not look before turnFor, and every hand-off between two sign-ins at a
	// healthy app would wait for it: no turn then (review s24 X-4).
	turn map[string]time.Time
	// runFree is how many of Run's workers are free (0 while Run is not running).
	runFree int
}

// turnFor bounds the queue's turn at a place a sign-in freed (Queue.turn).
const turnFor = time.Second

// New builds a Queue; Config must be valid.
func New(o Options) *Queue {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Queue{cfg: o.Config, store: o.Store, channels: o.Channels, targets: o.Targets, log: o.Logger, now: o.Now,
		observer: o.Observer, wake: make(chan struct{}, 1), lease: 2*o.Config.Timeout + 30*time.Second,
		workers: 4, perClient: 2, busy: map[string]int{}, waiting: map[string]int{}, signIns: map[string]int{}, failing: map[string]time.Time{},
		// An event's next attempt is due at most backoff_max after its failure, and claimed
		// within a lease of it unless the queue is full: a client's mark outlives the wait.
		failingFor: o.Config.BackoffMax + 2*o.Config.Timeout + 30*time.Second,
		ended:      map[string]*endWait{}, recheckFirst: 250 * time.Millisecond, recheckMax: 2 * time.Second,
		turn: map[string]time.Time{},
	}
}

// Wake makes the queue look at the outbox now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers due events until ctx ends, and purges delivered ones older than a week
// hourly. It returns once the deliveries in flight are recorded.
//
// Each free worker claims the next due event (one at a time, never one it cannot start at once,
// so no claimed event waits for a worker past its lease), skipping the clients that already have
// perClient deliveries in flight: a target that does not answer holds its own share of the
// workers, not the queue (review s14 X-6). The store's claim prefers the clients with nothing in
// flight, and the last free worker takes only the events of a client with nothing in flight
// whose latest delivery did not fail: two or three slow targets hold one worker each and the
// last stays free for another app (review s15 X-5); with more, once their first deliveries have
// failed (a request timeout), they share the other three and the last stays free all the same.
// A key's events still go one at a time, oldest first (the store's claim).
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{}, q.workers) // a worker came free; never blocks a worker
	free := q.workers
	setFree := func(n int) { // for deliverClaimed's turn: can Run look at once?
		q.mu.Lock()
		q.runFree = n
		q.mu.Unlock()
	}
	setFree(free)
	defer setFree(0)
	// The outbox could not be read (the store away): a transient failure retried every
	// second, said once as a warning, and its end once, as the other background jobs do.
	var down logging.Outage
	for {
		for free > 0 {
			e, err := q.claim(ctx, free == 1)
			if err != nil {
				if ctx.Err() == nil {
					down.Fail(ctx, q.log, q.now(), "shadow: claim failed; retrying every second", err)
				}
				break
			}
			down.OK(ctx, q.log, q.now(), "shadow: claims work again")
			if e == nil {
				break
			}
			free--
			setFree(free)
			wg.Add(1)
			go func() {
				defer wg.Done()
				q.deliverClaimed(ctx, e, false)
				done <- struct{}{}
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			free++
			setFree(free)
		case <-q.wake:
		case <-t.C:
		case <-purge.C:
			if n, err := q.store.PurgeDelivered(ctx, q.now().Add(-7*24*time.Hour)); err != nil {
				q.log.ErrorContext(ctx, "shadow: purge delivered events failed", "err", err)
			} else if n > 0 {
				q.log.DebugContext(ctx, "shadow: purged delivered events", "rows", n)
			}
		}
	}
}

// DeliverDue claims up to one event per worker, as Run does (perClient at most of one client,
// counting Run's deliveries in flight), delivers them and returns how many it claimed once
// their outcomes are recorded.
//
// It claims first and delivers after: what it claims is what was due when it was called. A
// delivery started before the last claim could end meanwhile (a fast refusal) and make its
// event, retried after a short backoff, or the next event of its key, behind a dead one, due
// again within the same call, which then claimed two events of one key, one after the other.
func (q *Queue) DeliverDue(ctx context.Context) (int, error) {
	var claimed []*store.OutboxEvent
	var err error
	for len(claimed) < q.workers {
		var e *store.OutboxEvent
		if e, err = q.claim(ctx, len(claimed) == q.workers-1); err != nil || e == nil {
			break
		}
		claimed = append(claimed, e)
	}
	var wg sync.WaitGroup
	for _, e := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.deliverClaimed(ctx, e, false)
		}()
	}
	wg.Wait()
	return len(claimed), err
}

// claim claims the next due event of a client below perClient deliveries in flight, and counts
// it in flight (deliverClaimed ends it); nil when none is due. The last free worker (last) is
// kept for a client with nothing in flight whose latest delivery did not fail: slow targets that
// fill the other workers (one each first: the store's claim prefers the clients with nothing in
// flight) never take it, and another app's event, a back-channel logout, queued after theirs
// goes out at once (review s15 X-5). A slow target that is not in flight is still a slow
// target: with four or more, the last worker went to the fourth, and each worker that came
// free went to the next of their events queued before the logout (their apps idle again, their
// events older), so the logout waited as long as they had events due. A target unknown yet (no
// delivery finished) may take the last worker once: its failure then keeps it off.
func (q *Queue) claim(ctx context.Context, last bool) (*store.OutboxEvent, error) {
	q.claimMu.Lock()
	defer q.claimMu.Unlock()
	q.mu.Lock()
	var full []string
	for c, n := range q.busy {
		// A sign-in waiting for a place of c (DeliverKey) takes the next one while the queue
		// has one of c's own in flight: Run's workers would otherwise re-take each freed place
		// before its next look (review s23 X-1). Never the queue's only one: sign-ins arriving
		// without end would hold its events of c (deprovisioning, logouts) back for ever
		// (review s23 X-4).
		if n >= q.perClient || last || (q.waiting[c] > 0 && n-q.signIns[c] >= 1) {
			full = append(full, c)
		}
	}
	if last {
		q.pruneFailing()
		for c := range q.failing {
			if q.busy[c] == 0 {
				full = append(full, c)
			}
		}
	}
	var turns []string // the places sign-ins freed for this look (turn)
	for c := range q.turn {
		turns = append(turns, c)
	}
	q.mu.Unlock()
	evs, err := q.store.ClaimEvents(ctx, store.Claim{Now: q.now(), Lease: q.lease, Limit: 1, ExcludeClients: full})
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range turns { // the queue has looked: the waiting sign-ins look again
		delete(q.turn, c)
		q.endNow(c)
	}
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	e := evs[0]
	q.busy[e.ClientID]++
	return e, nil
}

// deliverClaimed delivers an event claimed and counted in flight (claim, DeliverKey: signIn), ends its
// count in flight and records whether its client's latest delivery failed slowly (failing): a
// failure retried that took slowAfter or longer marks it; a delivery, a permanent refusal or a
// fast failure (the target answered: not slowness) or its app removed forgets it; a slow
// failure that went dead after max_attempts marks it only while the client has events pending
// (its next ones would meet the same target), so one whose events all went dead is forgotten.
// It returns the delivery's failure.
func (q *Queue) deliverClaimed(ctx context.Context, e *store.OutboxEvent, signIn bool) error {
	v, err := q.deliverOne(ctx, e)
	if v == markIfPending {
		v = forget
		// An event of the client in flight on another worker, or retried, is pending.
		if pending, err := q.store.OutboxEvents(context.WithoutCancel(ctx),
			store.OutboxFilter{State: store.OutboxPending, ClientID: e.ClientID, Limit: 1}); err != nil || len(pending) > 0 {
			v = mark
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	c := e.ClientID
	if q.busy[c]--; q.busy[c] <= 0 {
		delete(q.busy, c)
	}
	if signIn { // in the same step as busy: claim never sees one lowered without the other
		if q.signIns[c]--; q.signIns[c] <= 0 {
			delete(q.signIns, c)
		}
	}
	// A place freed, and the event's delivery ended: DeliverKey's waiters look again; but a
	// place a sign-in freed with none of the queue's in flight is the queue's to try first,
	// when Run has a worker free to look now and take it (turn): not its last, which takes
	// only a client with nothing in flight (claim), and c has the sign-ins' (review s24 X2-3).
	if signIn && q.waiting[c] > 0 && q.busy[c] == q.signIns[c] && q.runFree > 1 {
		at := time.Now()
		q.turn[c] = at
		q.Wake()
		time.AfterFunc(turnFor, func() { // the look did not come: the waiters look again
			q.mu.Lock()
			defer q.mu.Unlock()
			if t, ok := q.turn[c]; ok && t.Equal(at) {
				delete(q.turn, c)
				q.endNow(c)
			}
		})
	} else {
		q.endNow(c)
	}
	switch v {
	case mark:
		q.pruneFailing()
		q.failing[e.ClientID] = q.now()
	case forget:
		delete(q.failing, e.ClientID)
	}
	return err
}

// pruneFailing forgets the clients that failed more than failingFor ago (q.mu held).
func (q *Queue) pruneFailing() {
	before := q.now().Add(-q.failingFor)
	for c, at := range q.failing {
		if at.Before(before) {
			delete(q.failing, c)
		}
	}
}

// ForgetIdleClients forgets the failing clients (kept off the last free worker: claim) that
// have no event pending and none in flight: an app removed (the store's DeleteClient deletes its
// events) or registered again under its id since its failure starts unknown, as a new one does.
// The composition root calls it when clients change (cluster.TopicClients, on every replica).
func (q *Queue) ForgetIdleClients(ctx context.Context) error {
	q.mu.Lock()
	q.pruneFailing()
	marks := make(map[string]time.Time, len(q.failing))
	for c, at := range q.failing {
		if q.busy[c] == 0 {
			marks[c] = at
		}
	}
	q.mu.Unlock()
	for c, at := range marks {
		pending, err := q.store.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending, ClientID: c, Limit: 1})
		if err != nil {
			return fmt.Errorf("outbox: forget idle clients: %w", err)
		}
		if len(pending) > 0 {
			continue
		}
		q.mu.Lock()
		if q.busy[c] == 0 && q.failing[c].Equal(at) { // no delivery of its began or failed meanwhile
			delete(q.failing, c)
		}
		q.mu.Unlock()
	}
	return nil
}

// DeliverKey delivers the pending events of one key synchronously, oldest first (a
// synchronous provisioning at sign-in). An event leased by Run is waited for, and so is a free
// place among its client's deliveries in flight (perClient, Run's and other sign-ins' counted
// alike), both bounded by ctx and the per-request timeout; the first failure is returned. Each
// delivery counts for its client as Run's do: in flight meanwhile (perClient), and its outcome
// says whether the client's target is slow (deliverClaimed), besides its event's attempts,
// backoff and the observer's count (deliverOne). Before, a slow failure here was not counted for
// the client (session 19 O's note), and a sign-in delivered whatever its client had in flight:
// sign-ins at an app whose target hangs each added a request to it (closing-s22, O3/O4).
//
// A waiting sign-in wakes when one of its client's deliveries here ends (a place frees, or its
// own event's delivery by Run or another sign-in ends: deliverClaimed), and looks at the store
// again on its own only for an event delivered by another replica: after recheckFirst (250 ms),
// then twice as late each time up to recheckMax (2 s), about ten looks in the default deadline of 15 s.
// Before, every waiting sign-in read the store every 100 ms until its deadline: many sign-ins
// at a hanging app each made 150 such reads.
func (q *Queue) DeliverKey(ctx context.Context, key, clientID, subject string) error {
	deadline := q.now().Add(q.cfg.Timeout + 5*time.Second)
	recheck := q.recheckFirst
	// wait returns when ended closes, at the next re-check, or with an error at the deadline
	// or ctx's end.
	wait := func(why string, ended <-chan struct{}) error {
		left := deadline.Sub(q.now())
		if left < 0 {
			return errors.New(why)
		}
		t := time.NewTimer(min(left, recheck))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ended:
			return nil
		case <-t.C:
			if left <= recheck {
				return errors.New(why)
			}
			recheck = min(2*recheck, q.recheckMax)
			return nil
		}
	}
	// pending says whether key has an event pending (claimable, or leased by Run).
	pending := func() (bool, error) {
		evs, err := q.store.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending, ClientID: clientID, Subject: subject})
		if err != nil {
			return false, err
		}
		for _, e := range evs {
			if e.Key == key {
				return true, nil
			}
		}
		return false, nil
	}
	waiting := false
	unwait := func() {
		if waiting {
			waiting = false
			q.mu.Lock()
			if q.waiting[clientID]--; q.waiting[clientID] <= 0 {
				delete(q.waiting, clientID)
			}
			q.mu.Unlock()
		}
	}
	defer unwait()
	release := func() {}
	defer func() { release() }()
	for {
		// Taken before the look, so that a delivery ending between the look and the wait
		// wakes it all the same; the previous look's given back after.
		ended, next := q.endOf(clientID)
		release()
		release = next
		e, full, err := q.claimKey(ctx, key, clientID)
		if err != nil {
			return err
		}
		if full {
			// Only a sign-in with something to send waits for a place (review s23 X-1: one
			// with nothing pending waited for its app's deliveries in flight, then failed).
			if has, err := pending(); err != nil || !has {
				return err
			}
			if !waiting { // Run's workers leave the next free place of clientID to it (claim)
				waiting = true
				q.mu.Lock()
				q.waiting[clientID]++
				q.mu.Unlock()
			}
			if err := wait("the app's earlier deliveries are still in progress", ended); err != nil {
				return err
			}
			continue
		}
		if e == nil {
			// A place was free: this sign-in no longer waits for one, but for its event's
			// delivery elsewhere; the queue may take the app's other place (review s23 X2-1).
			unwait()
			if has, err := pending(); err != nil || !has {
				return err
			}
			if err := wait("an earlier delivery for this member is still in progress", ended); err != nil {
				return err
			}
			continue
		}
		unwait() // it has its place
		if err := q.deliverClaimed(ctx, e, true); err != nil {
			return err
		}
	}
}

// endWait is a client's wake-up channel (Queue.ended) and how many sign-ins hold it.
type endWait struct {
	ch      chan struct{}
	holders int
}

// endNow wakes the sign-ins waiting for one of clientID's deliveries to end (q.mu held).
func (q *Queue) endNow(clientID string) {
	if w := q.ended[clientID]; w != nil {
		close(w.ch)
		delete(q.ended, clientID)
	}
}

// endOf returns the channel closed when one of clientID's deliveries here next ends
// (deliverClaimed), and release, which the sign-in calls (once) when it no longer waits on it:
// the last holder of a channel not closed drops it. A channel closed (endNow) is no longer in
// the map, and one made since is another: release leaves both alone.
func (q *Queue) endOf(clientID string) (<-chan struct{}, func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.ended[clientID]
	if w == nil {
		w = &endWait{ch: make(chan struct{})}
		q.ended[clientID] = w
	}
	w.holders++
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			if q.ended[clientID] != w {
				return
			}
			if w.holders--; w.holders <= 0 {
				delete(q.ended, clientID)
			}
		})
	}
}

// claimKey claims the next event of key, due or not (DeliverKey), and counts it in flight, as
// claim does: nil when none is left to claim; full, claiming nothing, when clientID already has
// perClient deliveries in flight. One claim at a time (claimMu), so that a sign-in and Run's
// workers together never pass perClient.
func (q *Queue) claimKey(ctx context.Context, key, clientID string) (e *store.OutboxEvent, full bool, err error) {
	q.claimMu.Lock()
	defer q.claimMu.Unlock()
	q.mu.Lock()
	full = q.busy[clientID] >= q.perClient
	if at, ok := q.turn[clientID]; ok { // the queue's to try first, for at most turnFor
		if time.Since(at) < turnFor {
			full = true
		} else {
			delete(q.turn, clientID)
		}
	}
	q.mu.Unlock()
	if full {
		return nil, true, nil
	}
	evs, err := q.store.ClaimEvents(ctx, store.Claim{Now: q.now(), Lease: q.lease, Limit: 1, Key: key})
	if err != nil || len(evs) == 0 {
		return nil, false, err
	}
	e = evs[0]
	q.mu.Lock()
	q.busy[e.ClientID]++
	q.signIns[e.ClientID]++
	q.mu.Unlock()
	return e, false, nil
}

// errLeaseCut is a delivery stopped because its claim's lease was about to run out: its requests
// together took longer than the lease allows (deliverOne); it is retried as any failure.
var errLeaseCut = errors.New("the delivery was stopped before its claim's lease ran out (its requests together took too long; it is retried)")

// leaseMargin is the part of a claim's lease kept for recording the delivery's outcome: the
// delivery itself ends before it (deliverOne).
const leaseMargin = 10 * time.Second

// verdict is what a delivery's outcome says of its client's target (deliverClaimed).
type verdict int

const (
	forget        verdict = iota // delivered, refused for good or failed fast (the target answers), or its app removed meanwhile
	mark                         // failed slowly, retried later: the target is slow, or does not answer
	markIfPending                // failed slowly after max_attempts (the event went dead): mark while the client has events pending
	keep                         // nothing was sent (ErrNothingToSend): the client's mark, if any, stays as it is
)

// slowAfter is how long a failed delivery takes to count as slowness (verdict): a second, or
// half the request timeout when that is shorter. Only time spent holding a worker is slowness: a
// 503 or a refused connection answered in milliseconds is a failure, retried with backoff, but
// the target answers, and its next delivery frees its worker as fast (session 19 O's note:
// before, any failure retried kept its client off the last free worker).
func (q *Queue) slowAfter() time.Duration { return min(time.Second, q.cfg.Timeout/2) }

// deliverOne delivers a claimed event, records the outcome and returns what it says of the
// event's target (verdict) and the delivery's failure.
//
// A claimed delivery runs to its end even when ctx ends (shutdown, a sign-in request gone): the
// receiver may already have acted on it, and only the recorded outcome keeps it from being sent
// again after the lease. Each request is bounded by the configured timeout, and the whole
// delivery by the claim's lease less leaseMargin: a deliverer that makes several requests (SCIM
// with groups: a lookup and a change per role) is stopped, and retried later, rather than go on
// after its lease, when another replica (or a sign-in's DeliverKey here) may claim the event and
// send it at the same time (review s12 W2). Run returns once the deliveries in flight are
// recorded.
func (q *Queue) deliverOne(ctx context.Context, e *store.OutboxEvent) (verdict, error) {
	ctx = context.WithoutCancel(ctx)
	start := q.now()
	sendCtx, cancel := context.WithTimeoutCause(ctx, max(e.LeaseUntil.Sub(start)-min(leaseMargin, q.lease/4), 0), errLeaseCut)
	err := q.send(sendCtx, e)
	if err != nil && errors.Is(context.Cause(sendCtx), errLeaseCut) {
		// Said apart from one request's timeout: the operator's remedy differs (a longer
		// shadow.timeout, which lengthens the lease, or fewer requests per delivery).
		err = fmt.Errorf("%w: %w", errLeaseCut, err)
	}
	cancel()
	if errors.Is(err, ErrNothingToSend) {
		return q.skipped(ctx, e, start, err), nil
	}
	if err == nil {
		if merr := q.store.MarkDelivered(ctx, e.ID, e.LeaseUntil, q.now()); merr != nil {
			if errors.Is(merr, store.ErrLeaseLost) {
				// The delivery outlived its lease and another replica has claimed the event
				// since: that replica records the outcome (the receiver de-duplicates by id).
				q.log.WarnContext(ctx, "shadow: delivered after the lease ran out; another claim holds the event",
					"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "attempt", e.Attempts,
					"duration", q.now().Sub(start))
				return forget, nil
			}
			if errors.Is(merr, sso.ErrNotFound) {
				// Its app was removed meanwhile, and its events with it (the store's DeleteClient):
				// the delivery happened all the same, so it is counted and said as one.
				q.observe(e, OutcomeDelivered)
				q.log.InfoContext(ctx, "shadow: delivered an event of a removed app", "event", e.ID, "type", e.Type,
					"channel", e.Channel, "client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts,
					"duration", q.now().Sub(start))
				return forget, nil
			}
			q.log.ErrorContext(ctx, "shadow: mark delivered failed", "event", e.ID, "err", merr)
			return forget, merr // delivered: the target answers
		}
		q.observe(e, OutcomeDelivered)
		q.log.InfoContext(ctx, "shadow: delivered", "event", e.ID, "type", e.Type, "channel", e.Channel,
			"client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts, "duration", q.now().Sub(start))
		return forget, nil
	}
	dead := IsPermanent(err) || e.Attempts >= q.cfg.MaxAttempts
	v := mark
	switch {
	case IsPermanent(err): // a refusal (a 4xx): the target answers
		v = forget
	case q.now().Sub(start) < q.slowAfter(): // a fast failure (a 503 at once): the target answers
		v = forget
	case dead:
		v = markIfPending
	}
	next := q.now().Add(q.backoff(e.Attempts))
	if merr := q.store.MarkFailed(ctx, e.ID, e.LeaseUntil, next, CleanText(err.Error(), 1000), dead); merr != nil {
		if errors.Is(merr, store.ErrLeaseLost) {
			q.log.WarnContext(ctx, "shadow: delivery failed after the lease ran out; another claim holds the event",
				"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "attempt", e.Attempts, "err", err)
			return v, err
		}
		if errors.Is(merr, sso.ErrNotFound) {
			q.log.InfoContext(ctx, "shadow: delivery failed; the event's app was removed meanwhile, and the event with it",
				"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "subject", e.Subject,
				"attempt", e.Attempts, "duration", q.now().Sub(start), "err", err)
			return forget, err // its app is gone: what its target did says nothing any more
		}
		if errors.Is(merr, store.ErrSuperseded) {
			// A newer state of the member, written while this was in flight, stands for it:
			// it is never retried, and the newer one is sent next, now.
			q.observe(e, OutcomeSuperseded)
			q.log.WarnContext(ctx, "shadow: delivery failed; a newer event of the member and app supersedes it",
				"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "subject", e.Subject,
				"attempt", e.Attempts, "err", err)
			return v, err
		}
		q.log.ErrorContext(ctx, "shadow: mark failed failed", "event", e.ID, "err", merr)
	}
	if dead {
		q.observe(e, OutcomeDead)
	} else {
		q.observe(e, OutcomeRetry)
	}
	level := slog.LevelWarn
	if dead {
		level = slog.LevelError
	}
	q.log.Log(ctx, level, "shadow: delivery failed", "event", e.ID, "type", e.Type, "channel", e.Channel,
		"client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts, "dead", dead, "next_attempt", next, "err", err)
	return v, err
}

// skipped records an event whose deliverer found nothing to send (why: ErrNothingToSend and its
// reason): done, not delivered (store.OutboxSkipped), counted as OutcomeSkipped. Before, it
// was recorded and counted as delivered: the outbox and the metrics showed a logout sent to an
// app that was sent nothing (review s23 X2-2).
func (q *Queue) skipped(ctx context.Context, e *store.OutboxEvent, start time.Time, why error) verdict {
	if err := q.store.MarkSkipped(ctx, e.ID, e.LeaseUntil, q.now(), CleanText(why.Error(), 1000)); err != nil {
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			q.log.WarnContext(ctx, "shadow: nothing to send, found after the lease ran out; another claim holds the event",
				"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "attempt", e.Attempts)
		case errors.Is(err, sso.ErrNotFound): // its app was removed meanwhile, and its events with it
			q.log.InfoContext(ctx, "shadow: nothing to send; the event's app was removed meanwhile, and the event with it",
				"event", e.ID, "type", e.Type, "channel", e.Channel, "client", e.ClientID, "subject", e.Subject)
		default:
			// Retried after the lease, as a crash would be: the deliverer finds nothing again.
			q.log.ErrorContext(ctx, "shadow: mark skipped failed", "event", e.ID, "err", err)
		}
		return keep
	}
	q.observe(e, OutcomeSkipped)
	q.log.InfoContext(ctx, "shadow: nothing to send", "event", e.ID, "type", e.Type, "channel", e.Channel,
		"client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts, "duration", q.now().Sub(start), "reason", why)
	return keep
}

// observe tells the observer, if any, about a delivery attempt.
func (q *Queue) observe(e *store.OutboxEvent, outcome string) {
	if q.observer != nil {
		q.observer.Delivery(e.Channel, e.ClientID, outcome)
	}
}

// send routes the event: a deliverer of its channel, else its client's target of that kind.
func (q *Queue) send(ctx context.Context, e *store.OutboxEvent) error {
	if d, ok := q.channels[e.Channel]; ok {
		return d.Deliver(ctx, e)
	}
	r, ok := q.targets[e.ClientID]
	if !ok {
		return Permanent("client %s has no provisioning target any more", e.ClientID)
	}
	if r.Kind != e.Channel {
		return Permanent("client %s is no longer provisioned by %s", e.ClientID, e.Channel)
	}
	return r.Deliverer.Deliver(ctx, e)
}

// backoff is the delay after the n-th failed attempt: backoff_min doubled per attempt up to
// backoff_max, with jitter in [d/2, d] so that receivers coming back are not stampeded.
func (q *Queue) backoff(n int) time.Duration {
	d := q.cfg.BackoffMin
	for i := 1; i < n && d < q.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, q.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}
