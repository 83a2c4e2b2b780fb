package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/wire"
)

// Viewer is the member's view for one client: the claims the client may see (after its claim
// policy). Whether the member may use the client is Options.Access's decision.
type Viewer interface {
	View(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (claims map[string]any, err error)
}

// ViewFunc adapts a function to Viewer.
type ViewFunc func(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error)

// View calls f.
func (f ViewFunc) View(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error) {
	return f(ctx, m, subject, clientID, now)
}

// Options build a Service.
type Options struct {
	Config    Config
	Targets   map[string]Target
	Store     store.Store
	Directory legacy.Directory
	Viewer    Viewer
	// Outbox delivers what the service queues (built once by the composition root, with a
	// route for each of Targets: Routes); Logouts queue the back-channel logouts of ended
	// sessions on it.
	Outbox  *outbox.Queue
	Logouts *backchannel.Logouts
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lock lets one process at a time run the reconcile (default: a LocalLock of this Service).
	Lock JobLock
	// Leader runs the change poller and the reconciler on one replica at a time (a
	// cluster.Leases); nil: this process runs them.
	Leader Leader
	// Access decides whether the member may be active at a client (and, with
	// access.AnyClient, whether they may sign in at all): the bridge passes its Decider (standing,
	// grace period, standing_rule, require_current, access rules). Required: without one every
	// member is refused everywhere (fail closed) and New logs an error.
	Access access.Decider
}

// Service provisions shadow users; its outbox delivers what it queues.
type Service struct {
	cfg     Config
	targets map[string]Target
	store   store.Store
	dir     legacy.Directory
	view    Viewer
	log     *slog.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	lock    JobLock
	leader  Leader
	access  access.Decider
	outbox  *outbox.Queue
	logouts *backchannel.Logouts
	pollMu  sync.Mutex
	// Under the sync lock (pollMu): when the change poller last warned of a change stamped
	// ahead of the clock, and how far it has read.
	aheadWarned time.Time
	// clocksWarned: when warnClocks last warned (review s28 R7-7).
	clocksWarned time.Time
	// polledThrough is the latest change time this process's polls have read: a change at
	// or before it that a poll reads again (pollOverlap) is not counted as a change.
	polledThrough time.Time
	// amsAhead is how far the AMS's clock is ahead of this process's, at least, as the change
	// times read so far tell (sawStamp); amsKnown once one was read.
	amsAhead time.Duration
	amsKnown bool
}

// WatermarkName is the store watermark of the AMS change poller.
const WatermarkName = "shadow.ams_changes"

// New builds a Service. Config must be valid (Validate) and Targets too (ValidateTargets).
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lock == nil {
		o.Lock = &LocalLock{}
	}
	if o.Access == nil {
		o.Logger.Error("provisioning: built without an access decider; every member is treated as refused")
		o.Access = refuseAll{}
	}
	return &Service{
		cfg: o.Config, targets: o.Targets, store: o.Store, dir: o.Directory, view: o.Viewer,
		log: o.Logger, now: o.Now, sleep: sleepCtx, lock: o.Lock, leader: o.Leader, access: o.Access, outbox: o.Outbox, logouts: o.Logouts,
	}
}

// Routes are the outbox routes of the targets: each client's deliverer, built by its target's
// kind from its settings (Kinds), for outbox.Options.Targets. Each sends with senders'
// Internal sender when the target allows internal addresses, else its Public one (d.HTTP is
// set from senders).
func Routes(targets map[string]Target, d outbox.Deps, senders outbox.Senders) map[string]outbox.Route {
	routes := make(map[string]outbox.Route, len(targets))
	for id, t := range targets {
		if t.Settings != nil { // ValidateTargets refuses a target without; its events would be dead letters
			d.HTTP = senders.For(t.AllowInternal)
			routes[id] = outbox.Route{Kind: t.Kind(), Deliverer: t.Settings.Deliverer(d)}
		}
	}
	return routes
}

// RequireCurrentClients lists the clients whose target requires a current membership (for
// access.New).
func RequireCurrentClients(targets map[string]Target) []string {
	var ids []string
	for id, t := range targets {
		if t.RequireCurrent {
			ids = append(ids, id)
		}
	}
	return ids
}

// Target returns the provisioning target of a client.
func (s *Service) Target(clientID string) (Target, bool) {
	t, ok := s.targets[clientID]
	return t, ok
}

// Wake makes the outbox look for due events now.
func (s *Service) Wake() { s.outbox.Wake() }

// Outbox is the queue that delivers the events the service queues.
func (s *Service) Outbox() *outbox.Queue { return s.outbox }

// Logouts builds back-channel logout events and ends sessions with them.
func (s *Service) Logouts() *backchannel.Logouts { return s.logouts }

// DeliverDue delivers one batch of due events (Outbox().DeliverDue).
func (s *Service) DeliverDue(ctx context.Context) (int, error) { return s.outbox.DeliverDue(ctx) }

// EndSession ends a session and queues its back-channel logouts in one transaction
// (Logouts().EndSession).
func (s *Service) EndSession(ctx context.Context, sess *sso.Session) error {
	return s.logouts.EndSession(ctx, sess)
}

// Leader runs work on one replica at a time (cluster.Leases): fn runs while this replica
// holds the named lease and its context ends when the lease is lost.
type Leader interface {
	Lead(ctx context.Context, name string, fn func(ctx context.Context))
}

// Lease names of the service's singleton jobs.
const (
	LeasePoller     = "shadow.poller"
	LeaseReconciler = "shadow.reconciler"
)

// Run polls the AMS, reconciles every member periodically and delivers the outbox until ctx
// ends; it returns once all three have stopped (deliveries in flight recorded). With a Leader,
// polling and the reconciler run on the replica holding their lease; every replica delivers
// the outbox (each event is claimed by one).
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.outbox.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.lead(ctx, LeasePoller, s.runPoller)
	}()
	if s.cfg.ReconcileInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.lead(ctx, LeaseReconciler, s.runReconciler)
		}()
	}
	wg.Wait()
}

func (s *Service) lead(ctx context.Context, name string, fn func(context.Context)) {
	if s.leader == nil {
		fn(ctx)
		return
	}
	s.leader.Lead(ctx, name, fn)
}

// transient reports a failure of what a background job depends on that passes by itself (the
// store or the AMS unreachable or timing out): said once as a warning while it lasts, where
// any other failure is an error each time.
func transient(err error) bool {
	if errors.Is(err, legacy.ErrContract) { // the AMS answered, wrongly: no retry mends it
		return false
	}
	if errors.Is(err, legacy.ErrLocked) { // the AMS answered: one member's rows are being saved
		return false
	}
	return errors.Is(err, sso.ErrUnavailable) || errors.Is(err, legacy.ErrUnavailable)
}

func (s *Service) runPoller(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	var down logging.Outage
	for {
		n, err := s.Poll(ctx)
		if ctx.Err() == nil {
			s.logPoll(ctx, &down, n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logPoll logs what a poll did, each failure at its own level (review s26 R3-3): a member's
// unconfirmed refusal is not logged again (confirmRefusal warned, the member is read again at
// the next poll); the AMS or the store away is an outage, said once while it lasts; every
// other failure (a member's, reconcile_max_gone's stop) at error, at every poll.
func (s *Service) logPoll(ctx context.Context, down *logging.Outage, n int, err error) {
	errs := []error{err}
	if pe, ok := err.(*pollError); ok {
		errs = pe.errs
	}
	var unavailable error
	unconfirmed := 0
	if slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, store.ErrFenced) }) {
		// Another replica took the sync lock during the poll: every write after that was
		// refused, by member and for the progress, and the other replica polls now. One line
		// says so; no member failed (review s28 R10-2).
		s.log.WarnContext(ctx, "shadow: poll stopped: another replica took the sync lock; nothing more was written by this one")
		return
	}
	for _, e := range errs {
		switch {
		case e == nil:
		case errors.Is(e, ErrRefusalUnconfirmed):
			unconfirmed++
		case transient(e):
			if unavailable == nil {
				unavailable = e
			}
		default:
			s.log.ErrorContext(ctx, "shadow: poll failed", "err", e)
		}
	}
	if unavailable != nil {
		down.Fail(ctx, s.log, s.now(), "shadow: poll failed; retrying every poll_interval", unavailable)
	} else {
		down.OK(ctx, s.log, s.now(), "shadow: polls work again")
	}
	if n > 0 || unconfirmed > 0 {
		s.log.InfoContext(ctx, "shadow: poll", "changed_members", n, "unconfirmed", unconfirmed)
	}
}

// ---- change polling (Poll: poll.go) ----

// SyncLockName names the job lock that change polling and each reconcile page hold while they
// bring members up to date from what they read of the AMS.
const SyncLockName = "shadow.sync"

// SyncEpoch names the watermark that change polling and each reconcile page move, under the
// sync lock, to an odd value when they begin and to an even one when they end: a sign-in's
// just-in-time provisioning writes only if it has not moved since it read the member.
const SyncEpoch = "shadow.sync_epoch"

// epochAfter is the first value after both from and the clock whose parity is odd (1) or even
// (0).
func (s *Service) epochAfter(from time.Time, odd int64) time.Time {
	n := max(s.now().UnixNano(), from.UnixNano()+1)
	if n%2 != odd {
		n++
	}
	return time.Unix(0, n)
}

// moveEpoch sets the sync epoch to the first value after both from and the clock whose
// parity is odd (begin) or even (0), and returns it. Called under the sync lock, with from
// the value read under it: the move is a compare-and-set from it (store.ErrFenced when the
// epoch moved since; review s28 R7-1), so that a holder that lost the lock after its read does
// not write over the epoch of the one that took it, and then pass that one's fence.
func (s *Service) moveEpoch(ctx context.Context, from time.Time, odd int64) (time.Time, error) {
	e := s.epochAfter(from, odd)
	if err := s.store.SetPollProgress(ctx, SyncEpoch, e, nil, nil, store.Fence{Epoch: SyncEpoch, Value: from}); err != nil {
		return time.Time{}, fmt.Errorf("sync epoch: %w", err)
	}
	return e, nil
}

// beginSync is syncLock for a change poll or a reconcile page: the sync epoch is made odd
// before anything is read, and even again at the end (end), before the lock is released. A
// sign-in that read the member before the odd move finds its write refused; one that begins
// while the epoch is odd waits for the lock.
//
// fence is the epoch this holder set (review s27 R5-6): the sync lock can be lost without its
// holder knowing (a PostgreSQL session advisory lock ends with its pooled connection's
// session), and whoever takes it next moves the epoch first. The poll's progress (the retry
// list and the watermark) and its members' writes (withFence; review s28 R7-2) are written
// with the fence, and end moves the epoch only from the value this holder set: a holder that
// lost the lock writes none of them over the next one's.
func (s *Service) beginSync(ctx context.Context) (end func(), fence store.Fence, err error) {
	unlock, err := s.syncLock(ctx)
	if err != nil {
		return nil, store.Fence{}, err
	}
	epoch, err := s.store.Watermark(ctx, SyncEpoch)
	if err == nil {
		epoch, err = s.moveEpoch(ctx, epoch, 1)
	}
	if err != nil {
		unlock()
		return nil, store.Fence{}, fmt.Errorf("sync epoch: %w", err)
	}
	fence = store.Fence{Epoch: SyncEpoch, Value: epoch}
	return func() {
		// A failure leaves the epoch odd: sign-ins then take the lock (and make it even).
		ctx := context.WithoutCancel(ctx)
		err := s.store.SetPollProgress(ctx, SyncEpoch, s.epochAfter(epoch, 0), nil, nil, fence)
		switch {
		case errors.Is(err, store.ErrFenced):
			s.log.WarnContext(ctx, "shadow: the sync lock was lost during a sync (another replica took it); the sync epoch is left to it")
		case err != nil:
			s.log.WarnContext(ctx, "shadow: sync epoch not moved at the end of a sync", "err", err)
		}
		unlock()
	}, fence, nil
}

// syncLockRetry is how often a poll or a reconcile page asks again for the sync lock.
const syncLockRetry = 50 * time.Millisecond

// syncLock waits until this is the only change poll or reconcile page at work, in this process
// (pollMu) and on every replica (the job lock SyncLockName), and returns its release. Polling
// and the reconcile hold two leases, so on replicas sharing a database they can run at the same
// time on two machines: a reconcile page listed before a member changed must not write over
// what a poll on the other replica wrote after the change (a deactivated member's shadow user
// made active again until the next pass).
func (s *Service) syncLock(ctx context.Context) (func(), error) {
	s.pollMu.Lock()
	for {
		release, ok, err := s.lock.TryLock(ctx, SyncLockName)
		switch {
		case err != nil && ctx.Err() == nil:
			// The lock lives in the shared database: it cannot be reached (a transient failure).
			err = fmt.Errorf("lock %s: %w: %w", SyncLockName, sso.ErrUnavailable, err)
		case err == nil && ok:
			return func() { release(); s.pollMu.Unlock() }, nil
		case err == nil:
			err = s.sleep(ctx, syncLockRetry)
		}
		if err != nil {
			s.pollMu.Unlock()
			return nil, err
		}
	}
}

// Sync brings one member's shadow users, sessions and tokens in line with the directory. A
// member who was never signed in has no subject and nothing to do.
func (s *Service) Sync(ctx context.Context, m *legacy.Member) error {
	sub, err := s.store.SubjectByMemberKey(ctx, m.Key)
	if errors.Is(err, sso.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.syncSubject(ctx, m, sub.Subject)
}

// syncSubject is Sync for a member whose subject is known (polling and the reconcile).
func (s *Service) syncSubject(ctx context.Context, m *legacy.Member, subject string) error {
	users, err := s.store.ShadowUsers(ctx, "", subject)
	if err != nil {
		return err
	}
	return s.syncUsers(ctx, m, subject, users)
}

// syncUsers is syncSubject with the member's shadow users already read.
func (s *Service) syncUsers(ctx context.Context, m *legacy.Member, subject string, users []*store.ShadowUser) error {
	if m.Roles == nil {
		roles, err := s.dir.Roles(ctx, m.Key)
		if err != nil {
			return fmt.Errorf("roles: %w", amsErr(err))
		}
		m.Roles = roles
	}
	if d := s.access.Decide(ctx, m, subject, access.AnyClient, s.now()); !d.Allowed() {
		// The member may no longer sign in anywhere: end everything, in one transaction, once a
		// second read agrees (confirmRefusal).
		cm, cd, err := s.confirmRefusal(ctx, m, subject, users, d)
		if err != nil {
			return err
		}
		return s.deactivate(ctx, subject, cd.Reason, users, func(su *store.ShadowUser) (store.ShadowUpdate, error) {
			up, _, err := s.update(ctx, cm, subject, su.ClientID, su, false)
			return up, err
		})
	}
	// A lapse at an app is confirmed as a refusal everywhere is (confirmRefusal), with one
	// second read of the member for all of their apps.
	var (
		fresh    *legacy.Member
		freshErr error
		read     bool
	)
	reread := func() (*legacy.Member, error) {
		if !read {
			read = true
			if fresh, freshErr = s.freshMember(ctx, m.Key); freshErr == nil && fresh.UpdatedAt.IsZero() {
				fresh.UpdatedAt = m.UpdatedAt
			}
		}
		return fresh, freshErr
	}
	// One app's failure (its access rule or claim policy cannot be evaluated, a store write)
	// does not hold back the member's other apps: a lapse there is still acted on now. The
	// failures are returned together, so the member is synced again.
	// A lapse is confirmed before any app is synced (review s26 R3-5): when the second read
	// contradicts it, that read has shown the first wrong, so every app of the member is
	// synced from the second, not only the lapsing one left alone. The member is still synced
	// again later (ErrRefusalUnconfirmed), as for a refusal everywhere.
	src, contradicted := s.confirmLapses(ctx, m, subject, users, reread)
	var failed []error
	if contradicted != nil {
		failed = append(failed, contradicted)
		// A lapse the second read makes at another app stands only if the first read made it
		// too: two reads agree, as for any lapse.
		reread = func() (*legacy.Member, error) { return m, nil }
	}
	for _, su := range users {
		if _, ok := s.targets[su.ClientID]; !ok {
			continue
		}
		if err := s.syncUser(ctx, src, subject, su, reread); err != nil {
			failed = append(failed, fmt.Errorf("client %s: %w", su.ClientID, err))
		}
	}
	return errors.Join(failed...)
}

// ErrRefusalUnconfirmed is a member's sync that found the member refused (d, from the read it
// was given) while they still had something to lose, and a second read of the AMS that did not
// agree or failed: nothing was ended, and the member is synced again at the next poll (the
// watermark stays before them) or reconcile pass (counted in ReconcileResult.Unconfirmed).
var ErrRefusalUnconfirmed = errors.New("shadow: refusal not confirmed by a second read of the AMS")

// amsError is a failure of the AMS's directory as provisioning keeps it: errors.Is and
// errors.As see the directory's error (legacy.ErrUnavailable, ErrContract, ErrNotFound,
// context errors), but its text, which every log line and the poll's and the reconcile's
// errors print, names only its class (readErrClass) and, for a network fault, the network
// error. The directory's own text can quote a member's row: sqldir's contract faults ("%q is
// not a boolean", "key %q is not a GUID", "login %q matches 2 rows") and the database's
// errors (SQL Server's "Conversion failed when converting the varchar value '...'"). Session
// 27, after review s26 R3-6, which mended the confirm warnings alone. `ssobridge legacy check`
// shows the full answer.
type amsError struct{ err error }

func (e *amsError) Error() string {
	msg := "the AMS's answer failed (" + readErrClass(e.err) + "; its text is not shown, it may quote a member's row)"
	var ne net.Error
	if errors.As(e.err, &ne) {
		msg += ": " + ne.Error()
	}
	return msg
}

func (e *amsError) Unwrap() error { return e.err }

// amsErr wraps an error of the directory as an amsError; nil and a plain "not found" (no data
// in it) stay as they are.
func amsErr(err error) error {
	var ae *amsError
	if err == nil || errors.As(err, &ae) || (errors.Is(err, legacy.ErrNotFound) && !errors.Is(err, legacy.ErrUnavailable)) {
		return err
	}
	return &amsError{err: err}
}

// quietKey marks a context whose member was left unconfirmed at the poller's previous
// attempt already (its retry row says so): its unconfirmed refusal again is logged at debug,
// not warned of again (review s26 R3-7: once per member per streak).
type quietKey struct{}

func quietUnconfirmed(ctx context.Context) context.Context {
	return context.WithValue(ctx, quietKey{}, true)
}

// warnUnconfirmed logs an unconfirmed refusal: at warn, or at debug when ctx says it was
// warned of in this streak already (quietUnconfirmed).
func (s *Service) warnUnconfirmed(ctx context.Context, msg string, args ...any) {
	if ctx.Value(quietKey{}) != nil {
		s.log.DebugContext(ctx, msg, args...)
		return
	}
	s.log.WarnContext(ctx, msg, args...)
}

// readErrClass names the kind of a failed second read for the log (review s26 R3-6), never its
// text: a contract fault of the member's rows quotes the offending value (sqldir: "%q is not a
// boolean", "key %q is not a GUID"), the member's data.
func readErrClass(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "timeout"
	case errors.Is(err, legacy.ErrContract):
		return "contract" // legacy check --login shows the row
	case errors.Is(err, legacy.ErrLocked):
		return "locked" // an AMS transaction holds the member's rows
	case errors.Is(err, legacy.ErrUnavailable):
		return "ams_unavailable"
	default:
		return "error"
	}
}

// viewErrClass names the kind of a claim policy's failure (Viewer.View) for the log, never its
// text, which can quote a claim's value (session 28, P: the s27 F leftover).
func viewErrClass(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "timeout"
	case errors.Is(err, legacy.ErrUnavailable):
		return "ams_unavailable"
	default:
		return "policy_error"
	}
}

// freshLookup is a directory whose MemberByKey may answer from a cache (legacy/cache) and that
// can also ask the AMS itself.
type freshLookup interface {
	FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error)
}

// freshMember reads a member from the AMS itself, past any cache in front of it.
func (s *Service) freshMember(ctx context.Context, key string) (*legacy.Member, error) {
	var m *legacy.Member
	var err error
	if f, ok := s.dir.(freshLookup); ok {
		m, err = f.FreshMemberByKey(ctx, key)
	} else {
		m, err = s.dir.MemberByKey(ctx, key)
	}
	return m, amsErr(err)
}

// confirmRefusal checks the refusal d of m (as the poll, the reconcile listing or a look-up
// read it) before syncUsers ends everything of the member on it, and returns the member and
// decision to deactivate with (review s25 Y-7). One read is not enough: the poller reads a
// member because the AMS has just written them, and a read during a save (or of one rolled
// back) can see a contact half written, while the sessions ended and the refresh tokens
// revoked do not come back when the next read is right. So a member who has something to lose
// (an active shadow user at a target, a live session, or any live grant: anythingToEnd) is read again, past any cache, and decided again; the refusal stands only when
// that read refuses too (or no longer finds the member). When it allows them, or fails, nothing
// is ended: the error wraps ErrRefusalUnconfirmed and the member is synced again later. A
// member with nothing to lose (refused at the last sync already, and no grant since) is
// deactivated on the one read: that ends nothing and writes their shadow users' states again.
func (s *Service) confirmRefusal(ctx context.Context, m *legacy.Member, subject string, users []*store.ShadowUser, d access.Decision) (*legacy.Member, access.Decision, error) {
	lose, err := s.anythingToEnd(ctx, subject, users)
	if err != nil || !lose {
		return m, d, err
	}
	fresh, err := s.freshMember(ctx, m.Key)
	switch {
	case errors.Is(err, legacy.ErrNotFound):
		return m, d, nil // gone since (or no longer a login): refused all the same
	case err != nil:
		s.warnUnconfirmed(ctx, "shadow: member refused, but the read confirming it failed; nothing ended, synced again later",
			"subject", subject, "member_key", m.Key, "reason", d.Reason, "error_class", readErrClass(err))
		return nil, d, fmt.Errorf("%w: member %s: second read: %w", ErrRefusalUnconfirmed, m.Key, err)
	}
	if fresh.UpdatedAt.IsZero() {
		fresh.UpdatedAt = m.UpdatedAt
	}
	fd := s.access.Decide(ctx, fresh, subject, access.AnyClient, s.now())
	if fd.Allowed() {
		s.warnUnconfirmed(ctx, "shadow: member refused by one read of the AMS and allowed by the next; nothing ended, synced again later",
			"subject", subject, "member_key", m.Key, "reason", d.Reason)
		return nil, d, fmt.Errorf("%w: member %s: refused (%s), then allowed", ErrRefusalUnconfirmed, m.Key, d.Reason)
	}
	return fresh, fd, nil
}

// liveGrants is a store that can tell whether a subject holds any grant a deactivation would
// revoke or close (the SQLite and PostgreSQL stores).
type liveGrants interface {
	HasLiveGrants(ctx context.Context, subject string) (bool, error)
}

// anythingToEnd reports whether deactivating the subject would end something the member holds
// (review s26 R3-2): an active shadow user at a provisioning target, a live session, or any
// grant the store's deactivation revokes or closes: a live family (with a refresh token or
// access tokens only), an unexchanged code, an approved device authorization. A store that
// cannot tell answers true: the second read is cheap, an ending on one read is not.
func (s *Service) anythingToEnd(ctx context.Context, subject string, users []*store.ShadowUser) (bool, error) {
	for _, su := range users {
		if _, ok := s.targets[su.ClientID]; ok && su.Active {
			return true, nil
		}
	}
	sessions, err := s.store.Sessions(ctx, subject)
	if err != nil {
		return false, fmt.Errorf("sessions: %w", err)
	}
	if len(sessions) > 0 {
		return true, nil
	}
	lg, ok := s.store.(liveGrants)
	if !ok {
		return true, nil
	}
	live, err := lg.HasLiveGrants(ctx, subject)
	if err != nil {
		return false, fmt.Errorf("grants: %w", err)
	}
	return live, nil
}

// confirmLapses looks, before syncUsers syncs any app, for an app where the read m lapses the
// member (active there, refused by its rule now). When one does and the second read (reread)
// allows the member there, it returns that read, with which every app is synced, and an error
// wrapping ErrRefusalUnconfirmed; else m and nil (a lapse confirmed, or a second read that
// failed, is syncUser's to act on or report).
func (s *Service) confirmLapses(ctx context.Context, m *legacy.Member, subject string, users []*store.ShadowUser,
	reread func() (*legacy.Member, error)) (*legacy.Member, error) {
	now := s.now()
	for _, su := range users {
		if _, ok := s.targets[su.ClientID]; !ok || !su.Active {
			continue
		}
		d := s.access.Decide(ctx, m, subject, su.ClientID, now)
		if d.Allowed() || d.Reason == access.ReasonRuleError {
			continue
		}
		fm, err := reread()
		if err != nil {
			return m, nil
		}
		if !s.access.Decide(ctx, fm, subject, su.ClientID, now).Allowed() {
			return m, nil // confirmed here: syncUser lapses the member at this app
		}
		s.warnUnconfirmed(ctx, "shadow: member lapsed at a client by one read of the AMS and not by the next; nothing ended, every app synced from the second read, again later",
			"subject", subject, "member_key", m.Key, "client", su.ClientID, "reason", d.Reason)
		return fm, fmt.Errorf("%w: member %s at %s: refused (%s), then allowed", ErrRefusalUnconfirmed, m.Key, su.ClientID, d.Reason)
	}
	return m, nil
}

// syncUser brings the member's shadow user at one app in line (syncUsers, for a member who may
// sign in somewhere).
func (s *Service) syncUser(ctx context.Context, m *legacy.Member, subject string, su *store.ShadowUser,
	reread func() (*legacy.Member, error)) error {
	up, d, err := s.update(ctx, m, subject, su.ClientID, su, true)
	if err != nil {
		return err
	}
	if su.Active && !up.User.Active {
		// As for a refusal everywhere (confirmRefusal): the lapse stands only when a second
		// read of the AMS, past any cache, lapses the member here too (or no longer finds them).
		fm, err := reread()
		switch {
		case errors.Is(err, legacy.ErrNotFound):
		case err != nil:
			s.warnUnconfirmed(ctx, "shadow: member lapsed at a client, but the read confirming it failed; nothing ended, synced again later",
				"subject", subject, "member_key", m.Key, "client", su.ClientID, "reason", d.Reason, "error_class", readErrClass(err))
			return fmt.Errorf("%w: member %s: second read: %w", ErrRefusalUnconfirmed, m.Key, err)
		default:
			fup, fd, err := s.update(ctx, fm, subject, su.ClientID, su, true)
			if err != nil {
				return err
			}
			if fup.User.Active {
				s.warnUnconfirmed(ctx, "shadow: member lapsed at a client by one read of the AMS and not by the next; nothing ended, synced again later",
					"subject", subject, "member_key", m.Key, "client", su.ClientID, "reason", d.Reason)
				return fmt.Errorf("%w: member %s at %s: refused (%s), then allowed", ErrRefusalUnconfirmed, m.Key, su.ClientID, d.Reason)
			}
			up, d = fup, fd
		}
		// Lapsed per this client's rule: revoke this client's grants and log it out there.
		if ev, err := s.logouts.SubjectEvent(ctx, su.ClientID, subject); err != nil {
			return err
		} else if ev != nil {
			up.Events = append(up.Events, ev)
		}
		if _, err := s.store.Deactivate(ctx, &store.Deactivation{Subject: subject, RevokeClient: su.ClientID,
			Users: []store.ShadowUpdate{up}, Fence: fenceOf(ctx)}); err != nil {
			return err
		}
		s.superseded(ctx, up)
		s.log.InfoContext(ctx, "shadow: member deactivated at client", "subject", subject, "client", su.ClientID,
			"reason", d.Reason)
		return nil
	}
	if up.User.Digest == su.Digest && up.User.Active == su.Active {
		return nil // nothing the client sees changed (PutShadowUser would write nothing)
	}
	if err := s.putShadow(ctx, su, up); err != nil {
		return err
	}
	s.superseded(ctx, up)
	return nil
}

// putShadow writes a member's new shadow-user state up, computed from su (as read), and its
// events. Under a poll's or a reconcile page's fence (withFence) the write is checked, in its
// transaction, against the fence and su (review s28 R7-2): a holder that lost the sync lock
// writes nothing (store.ErrFenced) over the state the next holder wrote from a newer read.
func (s *Service) putShadow(ctx context.Context, su *store.ShadowUser, up store.ShadowUpdate) error {
	f := fenceOf(ctx)
	if f.Epoch == "" {
		_, err := s.store.PutShadowUser(ctx, up.User, up.Events...)
		return err
	}
	_, err := s.store.PutShadowUserIf(ctx, store.ShadowCond{Epoch: f.Epoch, EpochValue: f.Value, Prev: su, Fenced: true},
		up.User, up.Events...)
	return err
}

// fenceKey is the context key of the fence of the sync epoch that a poll or a reconcile page
// set when it took the sync lock (beginSync), carried to its members' writes (withFence).
type fenceKey struct{}

// withFence is ctx for the member syncs of a poll or a reconcile page holding the sync lock
// with fence (review s28 R7-2): their shadow-user writes and deactivations are fenced by it,
// so that a holder that lost the lock mid-sync writes nothing from what it read before the
// next holder's sync (a member made active again after the next holder deactivated them, or
// the reverse), which the next holder, its watermark past the change, would not read again.
func withFence(ctx context.Context, fence store.Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

// fenceOf is the fence withFence put in ctx; the zero Fence (nothing checked) outside a poll
// or reconcile page.
func fenceOf(ctx context.Context) store.Fence {
	f, _ := ctx.Value(fenceKey{}).(store.Fence)
	return f
}

// superseded logs, once each, the events that up's events superseded as they were written.
func (s *Service) superseded(ctx context.Context, up store.ShadowUpdate) {
	for _, e := range up.Events {
		if len(e.Supersedes) > 0 {
			s.log.InfoContext(ctx, "shadow: older events superseded by a newer state", "client", e.ClientID,
				"subject", e.Subject, "event", e.ID, "type", e.Type, "superseded", e.Supersedes)
		}
	}
}

// update computes the member's new shadow-user state at a client and its event (written only
// if the state changed), and access's decision for the client. prev may be nil (first
// provisioning).
func (s *Service) update(ctx context.Context, m *legacy.Member, subject, clientID string, prev *store.ShadowUser, mayBeActive bool) (store.ShadowUpdate, access.Decision, error) {
	now := s.now()
	claims, err := s.view.View(ctx, m, subject, clientID, now)
	if err != nil {
		if mayBeActive || prev == nil {
			return store.ShadowUpdate{}, access.Decision{}, fmt.Errorf("view for %s: %w", clientID, err)
		}
		// A member who may sign in nowhere is deactivated at every app in one transaction,
		// whatever this app's claim policy says now: its event carries the state the app was
		// last sent, inactive, rather than holding back the end of every session and grant.
		u, perr := lastSent(prev)
		if perr != nil {
			return store.ShadowUpdate{}, access.Decision{}, fmt.Errorf("view for %s: %w (and its last state: %w)", clientID, err, perr)
		}
		// The error's text is not logged: a claim policy's error can quote a claim's value (the
		// member's data). Its class, the app (whose claim policy failed) and the subject are;
		// the console's claims preview of the member for the app shows the error.
		s.log.WarnContext(ctx, "shadow: claim policy failed; deactivating with the state last sent", "client", clientID,
			"subject", subject, "class", viewErrClass(err))
		u.Active = false
		up, err := s.shadowUpdate(ctx, clientID, u, prev, now)
		return up, access.Decision{}, err
	}
	var d access.Decision
	if mayBeActive {
		// Only a member who may sign in somewhere needs this app's decision: an access rule that
		// cannot be evaluated refuses (fails closed) and holds this app's update back, not the
		// deactivation of a member who may sign in nowhere.
		d = s.access.Decide(ctx, m, subject, clientID, now)
		if d.Reason == access.ReasonRuleError {
			return store.ShadowUpdate{}, d, fmt.Errorf("view for %s: %w", clientID, d.Cause)
		}
	}
	active := mayBeActive && d.Allowed()
	up, err := s.shadowUpdate(ctx, clientID, userFromClaims(subject, active, claims), prev, now)
	return up, d, err
}

// lastSent is the member's state as last queued for an app (ShadowUser.View).
func lastSent(prev *store.ShadowUser) (wire.User, error) {
	var u wire.User
	if err := json.Unmarshal(prev.View, &u); err != nil {
		return wire.User{}, fmt.Errorf("read the state last sent: %w", err)
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u, nil
}

// shadowUpdate is the shadow-user state for payload u at a client and its event (written only
// if the state changed). prev may be nil (first provisioning). The event carries the member's
// whole state at the client, so it supersedes the older events of its key still waiting
// (supersede).
func (s *Service) shadowUpdate(ctx context.Context, clientID string, u wire.User, prev *store.ShadowUser, now time.Time) (store.ShadowUpdate, error) {
	t := s.targets[clientID]
	subject, active := u.Subject, u.Active
	sum, view, err := digest(u)
	if err != nil {
		return store.ShadowUpdate{}, err
	}
	typ := wire.TypeUpdated
	switch {
	case prev == nil:
		typ = wire.TypeCreated
	case !active:
		typ = wire.TypeDeactivated
	}
	channel := t.Kind()
	key := outbox.Key(channel, clientID, subject)
	ev := wire.Event{ID: outbox.NewEventID(), Type: typ, Timestamp: eventTime(now, prev), ClientID: clientID, Data: u}
	if prev != nil {
		ev.RemovedRoles = removedRoles(prev.View, u.Roles)
	}
	var supersedes []string
	if prev != nil && (prev.Digest != sum || prev.Active != active) {
		// A change (only a change is written): what the key's waiting events carry is folded in.
		if supersedes, err = s.supersede(ctx, key, &ev); err != nil {
			return store.ShadowUpdate{}, err
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return store.ShadowUpdate{}, err
	}
	return store.ShadowUpdate{
		User: &store.ShadowUser{ClientID: clientID, Subject: subject, Digest: sum, Active: active, View: view, UpdatedAt: ev.Timestamp},
		Events: []*store.OutboxEvent{{ID: ev.ID, Key: key, Type: ev.Type, Channel: channel,
			ClientID: clientID, Subject: subject, Payload: payload, Supersedes: supersedes}},
	}, nil
}

// eventTime is the time of a shadow user's next event: now, but always after the time of the
// state written before (prev.UpdatedAt, which shadowUpdate sets to its event's time), by at
// least a millisecond (receivers that keep milliseconds only still see it later). Receivers
// order a member's events by it (the consumer ignores one older than the state it holds), and
// the outbox sends a key's events in the order written: a clock stepped back between two
// writes, or two replicas whose clocks disagree, must not make a later event look older
// (review s26 V-7).
func eventTime(now time.Time, prev *store.ShadowUser) time.Time {
	at := now.UTC()
	if prev != nil && !prev.UpdatedAt.IsZero() && at.Before(prev.UpdatedAt.Add(time.Millisecond)) {
		at = prev.UpdatedAt.Add(time.Millisecond).UTC()
	}
	return at
}

// supersede makes ev stand for the events of key still waiting when the key is held by a
// failure (its oldest pending event was refused or failed at least once: it backs off, and the
// others wait behind it) or by a delivery in flight (its oldest pending event is leased), and
// returns their ids for the store to supersede as ev is written (store.OutboxEvent.Supersedes).
// While the app takes the member's changes as they come, each is sent, in order. ev carries the
// member's whole state, so what they carried is stale, but not what they took away: their
// removed roles that ev's roles do not hold again are ev's too (an app's group of a role
// removed while its event waited is left), and a creation the app has not had makes ev one
// (user.created, unless ev deactivates). So a newer state, a deactivation above all, is not
// held for hours behind an older one the app keeps failing. The event in flight finishes its
// attempt (the store leaves it); delivered, ev is sent after it (a removal or creation sent
// twice changes nothing); failed, the store supersedes it as it records the failure, and ev is
// sent at once instead of waiting for its retries (brief s21 G2 item 1). An event written
// after the read is not named: it is sent, and ev after it.
func (s *Service) supersede(ctx context.Context, key string, ev *wire.Event) ([]string, error) {
	waiting, err := s.store.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending, Key: key, Limit: maxSuperseded})
	if err != nil {
		return nil, fmt.Errorf("waiting events of %s: %w", key, err)
	}
	if len(waiting) == 0 || (waiting[0].LastError == "" && !waiting[0].LeaseUntil.After(s.now())) {
		return nil, nil
	}
	ids := make([]string, 0, len(waiting))
	removed := slices.Clone(ev.RemovedRoles)
	for _, w := range waiting {
		var old wire.Event
		if err := json.Unmarshal(w.Payload, &old); err != nil {
			continue // not one of provisioning's: left to be sent in order
		}
		ids = append(ids, w.ID)
		removed = append(removed, old.RemovedRoles...)
		if old.Type == wire.TypeCreated && ev.Type == wire.TypeUpdated {
			ev.Type = wire.TypeCreated
		}
	}
	removed = slices.DeleteFunc(removed, func(r string) bool { return slices.Contains(ev.Data.Roles, r) })
	slices.Sort(removed)
	if removed = slices.Compact(removed); len(removed) > 0 {
		ev.RemovedRoles = removed
	}
	return ids, nil
}

// maxSuperseded bounds the waiting events of one key read for a new one (more wait only when
// the app has refused that many changes of one member; the rest are sent in order).
const maxSuperseded = 100

// ---- just-in-time provisioning ----

// ErrProvisioning is returned by Provision when a synchronous provisioning failed.
var ErrProvisioning = errors.New("shadow: provisioning failed")

// Provision brings the member's shadow user at the client up to date at sign-in. For a target
// with sync: true the change is delivered before Provision returns (an error wraps
// ErrProvisioning); otherwise it is queued and the deliverer woken. m may be nil (looked up).
//
// A member Provision looks up is read from the AMS, not from the profile cache (which another
// replica's poll does not refresh), and the shadow user is written only if nothing changed
// since the member was read: the sync epoch (a watermark every change poll and reconcile page
// moves when it begins and when it ends, under the sync lock) and the shadow user are checked
// in the write's transaction (store.PutShadowUserIf); when either changed, the member is read
// again. So a deactivation that a poll writes while a sign-in is under way is either seen by
// the sign-in's read or makes its write fail, never undone by it; and of two sign-ins of one
// member, which may run on two replicas, only one creates the shadow user (the other's write
// fails and it reads again). Sign-ins of members that share no shadow user do not wait for each
// other. While a poll or reconcile page is at work (the epoch odd), or when the epoch was never
// set, Provision waits for the sync lock and writes under it, as change polling does.
// A member the caller passes (m) was read before: it must be as fresh as the caller can make
// it; a retry reads the member from the AMS.
func (s *Service) Provision(ctx context.Context, clientID, subject string, m *legacy.Member) error {
	t, ok := s.targets[clientID]
	if !ok {
		return nil
	}
	changed, up, err := s.provision(ctx, clientID, subject, m)
	if err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	if changed {
		s.log.InfoContext(ctx, "shadow: provisioning queued", "client", clientID, "subject", subject,
			"event", up.Events[0].ID, "type", up.Events[0].Type, "sync", t.Sync)
	}
	if !t.Sync {
		if changed {
			s.Wake()
		}
		return nil
	}
	// Deliver everything pending for this member at this client, in order, now.
	if err := s.outbox.DeliverKey(ctx, up.Events[0].Key, clientID, subject); err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	return nil
}

// provisionTries bounds the reads and writes of one Provision without the sync lock (each
// write found the epoch or the shadow user changed) before it takes the lock, and under it.
const provisionTries = 3

// provision is Provision's reads and write: without the sync lock while the epoch is even,
// under it otherwise (or after provisionTries refused writes).
func (s *Service) provision(ctx context.Context, clientID, subject string, m *legacy.Member) (bool, store.ShadowUpdate, error) {
	var key string // the subject's member key, looked up once, before the first read from the AMS
	try := func(epoch time.Time) (bool, store.ShadowUpdate, error) {
		if m == nil && key == "" {
			sub, err := s.store.SubjectByID(ctx, subject)
			if err != nil {
				return false, store.ShadowUpdate{}, fmt.Errorf("subject: %w", err)
			}
			key = sub.MemberKey
		}
		changed, up, err := s.provisionOnce(ctx, clientID, subject, key, m, epoch)
		if errors.Is(err, store.ErrShadowChanged) {
			m = nil // another sign-in of the member wrote first: read again
		}
		return changed, up, err
	}
	for range provisionTries {
		epoch, err := s.store.Watermark(ctx, SyncEpoch)
		if err != nil {
			return false, store.ShadowUpdate{}, err
		}
		if epoch.IsZero() || epoch.UnixNano()%2 != 0 {
			break // never set, or a poll or reconcile page at work (or one that died): the lock
		}
		changed, up, err := try(epoch)
		if !errors.Is(err, store.ErrShadowChanged) {
			return changed, up, err
		}
	}
	unlock, err := s.syncLock(ctx)
	if err != nil {
		return false, store.ShadowUpdate{}, err
	}
	defer unlock()
	epoch, err := s.store.Watermark(ctx, SyncEpoch)
	if err != nil {
		return false, store.ShadowUpdate{}, err
	}
	if epoch.IsZero() || epoch.UnixNano()%2 != 0 {
		// Under the lock no poll is at work: an epoch never set, or left odd by a poll that
		// died, is made even (the lock-free way open).
		if epoch, err = s.moveEpoch(ctx, epoch, 0); err != nil {
			return false, store.ShadowUpdate{}, err
		}
	}
	for i := 0; ; i++ {
		changed, up, err := try(epoch)
		if !errors.Is(err, store.ErrShadowChanged) || i == provisionTries {
			return changed, up, err
		}
	}
}

// provisionOnce reads the shadow user, the member (from the AMS by key when m is nil) and their
// roles, and writes the shadow user's update if the epoch is still epoch and the shadow user
// what was read (store.ErrShadowChanged otherwise).
func (s *Service) provisionOnce(ctx context.Context, clientID, subject, key string, m *legacy.Member, epoch time.Time) (bool, store.ShadowUpdate, error) {
	// The shadow user is read before the member: a write of it by another sign-in that read
	// the member after this one did refuses this one's write (which would send older data).
	prev, err := s.store.ShadowUser(ctx, clientID, subject)
	if errors.Is(err, sso.ErrNotFound) {
		prev = nil
	} else if err != nil {
		return false, store.ShadowUpdate{}, err
	}
	if m == nil {
		if c, ok := s.dir.(interface{ Invalidate(key string) }); ok {
			c.Invalidate(key)
		}
		if m, err = s.dir.MemberByKey(ctx, key); err != nil {
			return false, store.ShadowUpdate{}, fmt.Errorf("member: %w", amsErr(err))
		}
	}
	if m.Roles == nil {
		roles, err := s.dir.Roles(ctx, m.Key)
		if err != nil {
			return false, store.ShadowUpdate{}, fmt.Errorf("roles: %w", amsErr(err))
		}
		m.Roles = roles
	}
	up, _, err := s.update(ctx, m, subject, clientID, prev, true) // update asks access.Decide
	if err != nil {
		return false, store.ShadowUpdate{}, err
	}
	changed, err := s.store.PutShadowUserIf(ctx, store.ShadowCond{Epoch: SyncEpoch, EpochValue: epoch, Prev: prev}, up.User, up.Events...)
	if changed && err == nil {
		s.superseded(ctx, up)
	}
	return changed, up, err
}

func (s *Service) provisionFailed(ctx context.Context, t Target, clientID, subject string, err error) error {
	s.log.ErrorContext(ctx, "shadow: provisioning failed", "client", clientID, "subject", subject, "sync", t.Sync, "err", err)
	if !t.Sync {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrProvisioning, err)
}

// deactivate ends everything of a member who may no longer sign in, in one transaction:
// sessions ended (back-channel logout queued for their clients), every grant revoked, and each
// shadow user at a provisioning target deactivated with the update build makes for it. It is
// logged at info when it ended something; a member who stays disabled is seen again by every
// reconcile pass, at debug.
func (s *Service) deactivate(ctx context.Context, subject, reason string, users []*store.ShadowUser,
	build func(*store.ShadowUser) (store.ShadowUpdate, error)) error {
	d := &store.Deactivation{Subject: subject, EndSessions: true, Fence: fenceOf(ctx)}
	wasActive := 0
	for _, su := range users {
		if _, ok := s.targets[su.ClientID]; !ok {
			continue
		}
		up, err := build(su)
		if err != nil {
			return err
		}
		d.Users = append(d.Users, up)
		if su.Active {
			wasActive++
		}
	}
	ended, err := s.logouts.Deactivate(ctx, d, s.store.Deactivate)
	if err != nil {
		return err
	}
	for _, up := range d.Users {
		s.superseded(ctx, up)
	}
	level := s.log.DebugContext
	if len(ended) > 0 || wasActive > 0 {
		level = s.log.InfoContext
	}
	level(ctx, "shadow: member deactivated", "subject", subject, "reason", reason,
		"sessions_ended", len(ended), "shadow_users", wasActive)
	return nil
}

// refuseAll is the decider of a Service built without one: nobody may be active anywhere.
type refuseAll struct{}

func (refuseAll) Decide(context.Context, *legacy.Member, string, string, time.Time) access.Decision {
	return access.Decision{Rule: access.AccessRule, Reason: access.ReasonRuleError, Message: "Access cannot be decided.",
		Cause: errors.New("provisioning built without an access decider")}
}
