package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// The periodic reconcile catches what change polling cannot see: in iMIS, password changes,
// lock and unlock, role and group changes, a group window opening or closing and deleting a
// contact leave no timestamp. A pass pages over every member the AMS lists (in ascending key
// order, at a bounded rate) and brings each member the bridge knows (a subject) up to date
// exactly as polling does: per client with provisioning, the member's view and its digest,
// and an outbox event only where the digest changed, in the same transaction. Between two
// listed keys (and after the last one) it walks the subjects whose member is no longer listed:
// each is looked up by key to confirm, and one that the AMS does not know any more (a deleted
// contact) is deactivated everywhere as a member who may no longer sign in is (sessions ended,
// tokens revoked, back-channel logout queued, shadow users inactive). A listing that fails
// part-way deactivates nobody past the last page that was listed; the pass resumes from its
// cursor, kept in the store.

// ReconcileName names the reconcile's progress in the store and its job lock.
const ReconcileName = "shadow.reconcile"

var (
	// ErrReconcileBusy is returned by Reconcile while another reconcile holds the job lock.
	ErrReconcileBusy = errors.New("shadow: reconcile: another reconcile is running")
	// ErrEmptyListing is returned when the AMS lists no member at all: taken as a fault (a
	// wrong database, a broken query) rather than as everybody having left.
	ErrEmptyListing = errors.New("shadow: reconcile: the AMS listed no members at all")
	// ErrTooManyGone is returned when one page of a pass finds more members gone from the AMS
	// than shadow.reconcile_max_gone: taken as a fault (a wrong or partly restored database)
	// rather than as that many deletions; nobody on the page is deactivated.
	ErrTooManyGone = errors.New("shadow: reconcile: too many members gone from the AMS at once")
)

// JobLock decides which process runs a singleton job now. One process uses LocalLock;
// replicas sharing a database take a lock held there (a PostgreSQL advisory lock).
type JobLock interface {
	// TryLock takes the named lock without waiting: ok is false when another holder has it.
	// release gives it back.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
}

// LocalLock is a JobLock within one process. The zero value is ready to use.
type LocalLock struct {
	mu   sync.Mutex
	held map[string]bool
}

// TryLock takes the named lock when nobody in this process holds it.
func (l *LocalLock) TryLock(_ context.Context, name string) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil, false, nil
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[name] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.held, name)
		})
	}, true, nil
}

// ReconcileResult counts what one call of Reconcile did.
type ReconcileResult struct {
	// Resumed is true when the call continued a pass that an earlier call (or process) began.
	Resumed bool
	// Finished is true when the pass reached the end of the listing.
	Finished bool
	// Pages is how many listing queries returned members.
	Pages int
	// Listed is how many members the AMS listed.
	Listed int
	// Compared is how many members known to the bridge (with a subject) were brought up to
	// date, listed or found by key.
	Compared int
	// Gone is how many subjects whose member the AMS no longer knows were deactivated.
	Gone int
	// Failed is how many members could not be brought up to date (logged; the next pass
	// tries again).
	Failed int
	// Unconfirmed is how many members the AMS refused on the listing's read (or the key
	// look-up's) but not on a second read (ErrRefusalUnconfirmed): left as they were, and
	// looked at again by the next poll that sees them change or the next pass.
	Unconfirmed int
}

// maxConsecutiveFailures stops a pass whose member updates keep failing: something is wrong
// beyond one member (the store), and the pass resumes from its cursor later.
const maxConsecutiveFailures = 10

// subjectBatch is how many subjects one store query of a pass returns.
const subjectBatch = 1000

// Reconcile runs the reconcile pass in progress to its end, or begins one. It returns
// ErrReconcileBusy when another reconcile holds the job lock. On an error (the AMS
// unavailable, a listing out of order, ...) the pass stops after the last complete page and
// the next call resumes it there.
func (s *Service) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	release, ok, err := s.lock.TryLock(ctx, ReconcileName)
	if err != nil {
		return res, fmt.Errorf("shadow: reconcile: lock: %w", err)
	}
	if !ok {
		return res, ErrReconcileBusy
	}
	defer release()

	st, err := s.store.ReconcileState(ctx, ReconcileName)
	if err != nil {
		return res, fmt.Errorf("shadow: reconcile: %w", err)
	}
	if st.StartedAt.IsZero() {
		st = store.ReconcileState{StartedAt: s.now().UTC(), FinishedAt: st.FinishedAt}
		if err := s.store.SetReconcileState(ctx, ReconcileName, st); err != nil {
			return res, fmt.Errorf("shadow: reconcile: %w", err)
		}
	} else {
		res.Resumed = true
	}
	batch := max(1, min(s.cfg.ReconcileBatch, s.cfg.ReconcileRate))
	pace := &pacer{rate: float64(max(1, s.cfg.ReconcileRate)), start: s.now(), now: s.now, sleep: s.sleep}
	for {
		if err := pace.wait(ctx); err != nil {
			return res, fmt.Errorf("shadow: reconcile: %w", err)
		}
		next, done, cost, err := s.reconcilePage(ctx, st.Cursor, batch, &st.Gone, &res)
		pace.add(cost)
		if err != nil {
			s.log.WarnContext(ctx, "shadow: reconcile stopped", "cursor", st.Cursor, "listed", res.Listed,
				"compared", res.Compared, "gone", res.Gone, "failed", res.Failed, "err", err)
			return res, fmt.Errorf("shadow: reconcile: %w", err)
		}
		if res.Compared > 0 || res.Gone > 0 {
			s.Wake()
		}
		if done {
			break
		}
		st.Cursor = next
		if err := s.store.SetReconcileState(ctx, ReconcileName, st); err != nil {
			return res, fmt.Errorf("shadow: reconcile: %w", err)
		}
	}
	finished := s.now().UTC()
	if err := s.store.SetReconcileState(ctx, ReconcileName, store.ReconcileState{FinishedAt: finished}); err != nil {
		return res, fmt.Errorf("shadow: reconcile: %w", err)
	}
	res.Finished = true
	s.log.InfoContext(ctx, "shadow: reconcile finished", "listed", res.Listed, "compared", res.Compared,
		"gone", res.Gone, "failed", res.Failed, "unconfirmed", res.Unconfirmed, "resumed", res.Resumed, "duration", finished.Sub(st.StartedAt))
	return res, nil
}

// reconcilePage lists the members after the cursor and handles them, and the subjects in the
// same key range whose member was not listed. It returns the next cursor (the last key
// listed), done when the listing is complete, and its cost for the rate: the members listed
// and looked up. Change polling, in this process and on every replica (syncLock), waits while
// a page is handled, so that a page listed before a poll never writes over what the poll wrote
// after it.
//
// passGone is how many members with something to end (anythingToEnd) the pass has deactivated
// as gone from the AMS before this page; the page adds its own. A page that would take it past
// shadow.reconcile_max_gone deactivates none of its gone members and stops the pass (review
// s26 V-6; bounded per pass, not per page, since session 27). A member gone long ago, with
// nothing left to end, is deactivated again (a no-op) without counting.
func (s *Service) reconcilePage(ctx context.Context, after string, batch int, passGone *int, res *ReconcileResult) (next string, done bool, cost int, err error) {
	unlock, fence, err := s.beginSync(ctx)
	if err != nil {
		return "", false, 0, err
	}
	defer unlock()
	ctx = withFence(ctx, fence) // the members' writes too (review s28 R7-2)
	retries, err := s.loadRetries(ctx)
	if err != nil {
		return "", false, 0, err
	}
	members, err := s.dir.ListMembers(ctx, after, batch)
	cost = len(members)
	if err != nil {
		return "", false, cost, fmt.Errorf("list members after %q: %w", after, amsErr(err))
	}
	if len(members) == 0 && after == "" {
		return "", false, cost, ErrEmptyListing
	}
	// The listing's order bounds the key ranges in which an unlisted subject counts as gone:
	// a listing out of order could make live members look gone, so it stops the pass. A key
	// listed twice in a row (a key on two AMS rows, review s26 V-1) is that member's fault: it
	// is taken as not listed, so its subject is looked up by key (the lookup's contract fault
	// is counted as its failure) and the pass goes on.
	prev := after
	twice := map[string]bool{}
	for i, m := range members {
		switch {
		case i > 0 && m.Key == prev:
			twice[m.Key] = true
		case m.Key <= prev:
			return "", false, cost, fmt.Errorf("listing after %q is not in ascending key order (%q after %q); "+
				"a custom list_members with text keys must order them by their bytes (a binary collation)", after, m.Key, prev)
		}
		prev = m.Key
	}
	through := ""
	if len(members) > 0 {
		through = members[len(members)-1].Key
		res.Pages++
		res.Listed += len(members)
	}
	if len(twice) > 0 {
		for k := range twice {
			s.log.WarnContext(ctx, "shadow: reconcile: a member key listed twice; looked up by key", "member_key", k)
		}
		members = slices.DeleteFunc(slices.Clone(members), func(m *legacy.Member) bool { return twice[m.Key] })
	}

	fails := 0
	outcome := func(err error, what, key string) error {
		if err == nil {
			fails = 0
			return nil
		}
		if errors.Is(err, store.ErrFenced) {
			// The sync lock was lost to another replica (review s28 R7-2): a member's write was
			// refused; not the member's failure, and the page stops, writing nothing more.
			return fmt.Errorf("%s %s: %w", what, key, store.ErrFenced)
		}
		if errors.Is(err, ErrRefusalUnconfirmed) && (!errors.Is(err, legacy.ErrUnavailable) || errors.Is(err, legacy.ErrLocked)) &&
			ctx.Err() == nil {
			// Two reads of the AMS disagreed, or the second waited in vain for the member's
			// rows an AMS transaction holds (logged by confirmRefusal): not a failure of the
			// member or of the store. (The second read failing with the AMS away stops the pass,
			// as below.)
			fails = 0
			res.Unconfirmed++
			return nil
		}
		// The AMS away stops the pass (it resumes there); a contract fault of this member's
		// rows (legacy.ErrContract, e.g. its key matching two rows) is its failure alone, which
		// no retry mends: counted, and the pass goes on (review s25 W-6).
		if ctx.Err() != nil || (errors.Is(err, legacy.ErrUnavailable) && !errors.Is(err, legacy.ErrContract)) {
			return fmt.Errorf("%s %s: %w", what, key, err)
		}
		res.Failed++
		s.log.ErrorContext(ctx, "shadow: reconcile: member not updated", "member_key", key, "err", err)
		if fails++; fails >= maxConsecutiveFailures {
			return fmt.Errorf("%d members in a row failed, the last one %s: %w", fails, key, err)
		}
		return nil
	}

	var goneSubs []*store.Subject
	counted := 0 // of goneSubs, those with something to end
	listed := make(map[string]*legacy.Member, len(members))
	for _, m := range members {
		listed[m.Key] = m
	}
	for from := after; ; {
		subs, err := s.store.SubjectsByKeyRange(ctx, from, through, subjectBatch)
		if err != nil {
			return "", false, cost, err
		}
		// The shadow users of the listed ones, in one query.
		var subjects []string
		for _, sub := range subs {
			if listed[sub.MemberKey] != nil {
				subjects = append(subjects, sub.Subject)
			}
		}
		users, err := s.store.ShadowUsersOf(ctx, subjects)
		if err != nil {
			return "", false, cost, err
		}
		usersOf := map[string][]*store.ShadowUser{}
		for _, u := range users {
			usersOf[u.Subject] = append(usersOf[u.Subject], u)
		}
		for _, sub := range subs {
			if m, ok := listed[sub.MemberKey]; ok {
				err := s.syncUsers(ctx, m, sub.Subject, usersOf[sub.Subject])
				if err == nil {
					res.Compared++
					retries.done(sub.MemberKey) // up to date: the poller need not retry it
				}
				if err := outcome(err, "member", sub.MemberKey); err != nil {
					return "", false, cost, err
				}
				continue
			}
			cost++
			gone, err := s.reconcileUnlisted(ctx, sub)
			switch {
			case err != nil:
				if err := outcome(err, "unlisted member", sub.MemberKey); err != nil {
					return "", false, cost, err
				}
			case gone:
				fails = 0
				lose, err := s.goneHasSomethingToEnd(ctx, sub.Subject)
				if err != nil {
					return "", false, cost, err
				}
				goneSubs = append(goneSubs, sub)
				if lose {
					counted++
				}
				if *passGone+counted > s.cfg.ReconcileMaxGone {
					upTo := strconv.Quote(through)
					if through == "" {
						upTo = "the end"
					}
					return "", false, cost, fmt.Errorf("%w: more than %d members not in the AMS any more in one pass (%d deactivated before %q, more after it up to %s); "+
						"nobody on this page deactivated. If the AMS is the right one and they were deleted, raise shadow.reconcile_max_gone",
						ErrTooManyGone, s.cfg.ReconcileMaxGone, *passGone, after, upTo)
				}
			default:
				fails = 0
				res.Compared++
				retries.done(sub.MemberKey)
			}
		}
		if len(subs) < subjectBatch {
			break
		}
		from = subs[len(subs)-1].MemberKey
	}
	if len(members) == 0 && len(goneSubs) > 0 {
		// The end of the listing, or an AMS that lists nobody any more (a restore to an empty
		// database, another database after a restart, met by a pass resumed from its cursor):
		// the members after the cursor are deactivated only if the AMS still lists its first
		// member (review s26 V-6).
		first, err := s.dir.ListMembers(ctx, "", batch)
		cost += len(first)
		if err != nil {
			return "", false, cost, fmt.Errorf("list members (check of a listing that ended after %q): %w", after, amsErr(err))
		}
		if len(first) == 0 {
			return "", false, cost, fmt.Errorf("the listing ended after %q and lists nobody from the start: %w", after, ErrEmptyListing)
		}
	}
	// The members gone from the AMS, deactivated only once the page is known to hold no more
	// than shadow.reconcile_max_gone of them (review s26 V-6).
	*passGone += counted
	for _, sub := range goneSubs {
		err := s.deactivateGone(ctx, sub.Subject)
		if err == nil {
			res.Gone++
			retries.done(sub.MemberKey)
		}
		if err := outcome(err, "gone member", sub.MemberKey); err != nil {
			return "", false, cost, err
		}
	}
	// The members brought up to date leave the poller's retry list.
	if _, del := retries.changes(); len(del) > 0 {
		if err := s.store.SetPollProgress(ctx, WatermarkName, time.Time{}, nil, del, fence); err != nil {
			return "", false, cost, fmt.Errorf("retry list: %w", err)
		}
	}
	return through, through == "", cost, nil
}

// reconcileUnlisted handles a subject whose member the listing skipped: it is looked up by
// key in the AMS itself (past the profile cache, which may still hold the member from a
// sign-in), and reported gone when the AMS does not know it any more (the caller deactivates
// it; a lookup that fails for any other reason deactivates nothing). A member found after all
// (created or restored since the listing) is brought up to date.
func (s *Service) reconcileUnlisted(ctx context.Context, sub *store.Subject) (gone bool, err error) {
	m, err := s.freshMember(ctx, sub.MemberKey)
	switch {
	case err == nil:
		return false, s.syncSubject(ctx, m, sub.Subject)
	case errors.Is(err, legacy.ErrNotFound):
		return true, nil
	default:
		return false, fmt.Errorf("look up: %w", err)
	}
}

// goneHasSomethingToEnd reports whether deactivating a member gone from the AMS would end
// anything (anythingToEnd over its shadow users): only those count towards
// shadow.reconcile_max_gone.
func (s *Service) goneHasSomethingToEnd(ctx context.Context, subject string) (bool, error) {
	users, err := s.store.ShadowUsers(ctx, "", subject)
	if err != nil {
		return false, err
	}
	return s.anythingToEnd(ctx, subject, users)
}

// deactivateGone ends everything of a member the AMS no longer knows, as for a member who may
// no longer sign in: sessions ended (back-channel logout queued for their clients), every
// grant revoked, shadow users deactivated with the data last sent (there is nothing newer).
func (s *Service) deactivateGone(ctx context.Context, subject string) error {
	users, err := s.store.ShadowUsers(ctx, "", subject)
	if err != nil {
		return err
	}
	now := s.now()
	return s.deactivate(ctx, subject, "not_in_ams", users, func(su *store.ShadowUser) (store.ShadowUpdate, error) {
		var u wire.User
		if len(su.View) > 0 {
			if err := json.Unmarshal(su.View, &u); err != nil {
				return store.ShadowUpdate{}, fmt.Errorf("shadow user at %s: stored view: %w", su.ClientID, err)
			}
		}
		u.Subject, u.Active = subject, false
		if u.Roles == nil {
			u.Roles = []string{}
		}
		return s.shadowUpdate(ctx, su.ClientID, u, su, now)
	})
}

// runReconciler runs a pass reconcile_interval after the previous one ended (at once when a
// pass is in progress or none ever ended), and retries a failed one after poll_interval.
func (s *Service) runReconciler(ctx context.Context) {
	if s.cfg.ReconcileInterval <= 0 {
		return
	}
	var down logging.Outage // the store or the AMS away: said once, and its end once
	for {
		wait := time.Duration(0)
		st, err := s.store.ReconcileState(ctx, ReconcileName)
		switch {
		case err != nil && ctx.Err() != nil:
			return // shutting down: not a failure
		case err != nil && transient(err):
			down.Fail(ctx, s.log, s.now(), "shadow: reconcile: cannot read its progress; retrying every poll_interval", err)
			wait = s.cfg.PollInterval
		case err != nil:
			s.log.ErrorContext(ctx, "shadow: reconcile: read progress", "err", err)
			wait = s.cfg.PollInterval
		case st.StartedAt.IsZero() && !st.FinishedAt.IsZero():
			wait = st.FinishedAt.Add(s.cfg.ReconcileInterval).Sub(s.now())
			if wait > 0 {
				down.OK(ctx, s.log, s.now(), "shadow: reconcile works again")
			}
		}
		if wait <= 0 {
			_, err := s.Reconcile(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrReconcileBusy):
				wait = s.cfg.PollInterval
			case err != nil && transient(err):
				down.Fail(ctx, s.log, s.now(), "shadow: reconcile failed; resuming every poll_interval", err)
				wait = s.cfg.PollInterval
			case err != nil:
				s.log.ErrorContext(ctx, "shadow: reconcile failed; resuming later", "retry_in", s.cfg.PollInterval, "err", err)
				wait = s.cfg.PollInterval
			default:
				down.OK(ctx, s.log, s.now(), "shadow: reconcile works again")
				continue // the next pass is due reconcile_interval after this one ended
			}
		}
		if s.sleep(ctx, wait) != nil {
			return
		}
	}
}

// pacer keeps a pass at or under its rate: after n members, wait until n/rate seconds have
// passed since the start.
type pacer struct {
	rate  float64 // members per second
	start time.Time
	n     int
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func (p *pacer) add(n int) { p.n += n }

// minPause is the shortest pause worth a timer; a shorter one is caught up by a later wait
// (the budget counts from the start of the pass).
const minPause = 10 * time.Millisecond

func (p *pacer) wait(ctx context.Context) error {
	due := p.start.Add(time.Duration(float64(p.n) / p.rate * float64(time.Second)))
	if d := due.Sub(p.now()); d >= minPause {
		return p.sleep(ctx, d)
	}
	return ctx.Err()
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
