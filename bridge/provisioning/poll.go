package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// changeBatch is how many changed members one directory query returns.
const changeBatch = 500

// pollOverlap is how far before the clock at a poll's start the stored watermark stays at
// most (review s26 V-2): the next poll reads again every change stamped after that instant.
// So a change the AMS's scan passed while it ran (changed_since reads its tables in key order,
// not time order, and takes time), or one stamped within that margin by a server whose clock
// is a little behind, is seen by the next poll; and a row stamped ahead of the clock (a time
// zone offset corrected, a date written in another time frame) does not move the watermark
// past every change stamped before it. Reading a change again is harmless: digests make it
// idempotent.
const pollOverlap = 2 * time.Minute

// aheadWarning is how far ahead of the bridge's clock a change time must be for a poll to warn
// that the AMS's clock (its time zone offset) looks wrong; aheadWarnEvery rate-limits it.
const (
	aheadWarning   = 5 * time.Minute
	aheadWarnEvery = time.Hour
)

// pollHolds is how many polls in a row one member's failing sync keeps the watermark before
// that member's change (it is read again by each); after that the member is retried by key,
// from the poller's retry list, and the watermark moves on (review s26 V-3). maxPollRetries
// bounds the list; maxRetryDelay bounds the wait between two retries of one member.
const (
	pollHolds      = 3
	maxPollRetries = 1000
	maxRetryDelay  = time.Hour
)

// retryList is the poller's retry list (store.PollRetry rows, kept in the store beside the
// watermark: review s26 R3-7) as one poll read it, and the changes it makes to it, written with
// the watermark at its end (store.SetPollProgress).
type retryList struct {
	rows map[string]*store.PollRetry
	put  map[string]bool
	del  map[string]bool
	// full counts the failing members this poll could not list (maxPollRetries reached): each
	// holds the watermark before its change.
	full int
}

// loadRetries reads the retry list. Called under the sync lock.
func (s *Service) loadRetries(ctx context.Context) (*retryList, error) {
	rows, err := s.store.PollRetries(ctx)
	if err != nil {
		return nil, fmt.Errorf("retry list: %w", err)
	}
	l := &retryList{rows: make(map[string]*store.PollRetry, len(rows)), put: map[string]bool{}, del: map[string]bool{}}
	for i := range rows {
		l.rows[rows[i].MemberKey] = &rows[i]
	}
	return l, nil
}

// done takes a member whose sync succeeded off the list.
func (l *retryList) done(key string) {
	if l.rows[key] != nil {
		delete(l.rows, key)
		delete(l.put, key)
		l.del[key] = true
	}
}

// unconfirmed reports whether the member's last attempt left its refusal unconfirmed (warned
// of already in this streak).
func (l *retryList) unconfirmed(key string) bool {
	r := l.rows[key]
	return r != nil && r.Unconfirmed
}

// changes returns the rows to write and the keys to delete, each in key order.
func (l *retryList) changes() (put []store.PollRetry, del []string) {
	for k := range l.put {
		put = append(put, *l.rows[k])
	}
	for k := range l.del {
		del = append(del, k)
	}
	sort.Slice(put, func(i, j int) bool { return put[i].MemberKey < put[j].MemberKey })
	sort.Strings(del)
	return put, del
}

// retryDelay is how long after a failed retry by key (the k-th, from 0) the member is tried
// again: at the next poll first, then after 1, 3, 7... poll intervals, at most maxRetryDelay.
func (s *Service) retryDelay(k int) time.Duration {
	k = min(max(k, 0), 16)
	return min(s.cfg.PollInterval*time.Duration((1<<k)-1), maxRetryDelay)
}

// Poll asks the directory for members changed since the stored watermark and brings their
// shadow users (and, for members who may no longer sign in, their sessions and tokens) up to
// date; it returns how many changed members it handled (not counting those read again within
// the overlap). One member whose sync fails does not hold back the others (review s26 V-3):
// the poll goes on past it, and the watermark stays before its change for pollHolds polls, so
// it is read again; after that it is retried by key (the retry list, kept in the store and
// written with the watermark in one transaction, so that neither a restart nor another
// replica taking the lead forgets it: review s26 R3-7), at the next poll and then less and
// less often, until it succeeds or the reconcile brings it up to date. A member whose refusal
// a second read does not confirm (ErrRefusalUnconfirmed) is held and retried the same way, but
// it is "unconfirmed", not failed: warned of once per streak, counted apart. A failure of
// what every member needs (the store or the AMS away) stops the poll there, the watermark
// kept before it. The watermark never passes the clock at the poll's start less pollOverlap
// (V-2), by the bridge's clock nor by the AMS database's, read right before the scan (review
// s27 R5-4; a directory without a clock: as the change times tell it, sawStamp). More members
// gone than
// shadow.reconcile_max_gone deactivates none of them and holds them all (R3-1): the watermark
// stays before their changes and the retried ones stay on the list, so each poll says so again.
func (s *Service) Poll(ctx context.Context) (int, error) {
	unlock, fence, err := s.beginSync(ctx)
	if err != nil {
		return 0, fmt.Errorf("shadow: poll: %w", err)
	}
	defer unlock()
	ctx = withFence(ctx, fence) // the members' writes too (review s28 R7-2)
	start := s.now()
	since, err := s.store.Watermark(ctx, WatermarkName)
	if err != nil {
		return 0, fmt.Errorf("shadow: poll: %w", err)
	}
	retries, err := s.loadRetries(ctx)
	if err != nil {
		return 0, fmt.Errorf("shadow: poll: %w", err)
	}
	// The AMS database's clock, read right before the scan (review s27 R5-4): a change it
	// stamps from now on may commit late, but not before this instant less pollOverlap, so the
	// watermark stays there at most. Without a clock (legacy.ErrNoClock) it is estimated from
	// the change times read (sawStamp).
	amsNow, amsClock, err := s.amsClock(ctx)
	if err != nil {
		return 0, &pollError{errs: []error{fmt.Errorf("the AMS's clock: %w", err)}}
	}
	if amsClock {
		s.warnClocks(ctx, start, amsNow)
	}
	total := 0
	var failed []error
	var hold time.Time // the earliest change time of a member that must be read again
	holdAt := func(t time.Time) {
		if t.IsZero() {
			return // a member retried by key (no change time): the retry list keeps it
		}
		if hold.IsZero() || t.Before(hold) {
			hold = t
		}
	}
	seen := map[string]bool{}
	var gone []goneMember // confirmed gone: deactivated at the end, if not too many
	cursor := since
	var stop error
	for stop == nil {
		members, next, err := s.dir.ChangedSince(ctx, cursor, changeBatch)
		if err != nil {
			err = amsErr(err)
			failed = append(failed, fmt.Errorf("changed since %s: %w", cursor.Format(time.RFC3339), err))
			stop = err
			holdAt(cursor.Add(time.Millisecond)) // nothing after cursor was read
			break
		}
		if !amsClock {
			read := s.now()
			if next.After(cursor) {
				s.sawStamp(next, read)
			}
			for _, m := range members {
				s.sawStamp(m.UpdatedAt, read)
			}
		}
		sort.SliceStable(members, func(i, j int) bool { return members[i].UpdatedAt.Before(members[j].UpdatedAt) })
		for _, m := range members {
			s.warnAhead(ctx, m, start, amsNow, amsClock)
			seen[m.Key] = true
			mctx := ctx
			if retries.unconfirmed(m.Key) {
				mctx = quietUnconfirmed(ctx) // warned of once in this streak already
			}
			var err error
			if reportedGone(m) {
				n := len(gone)
				if err = s.pollGone(mctx, m, &gone); err == nil && len(gone) > n {
					continue // deactivated below (and counted there)
				}
			} else {
				err = s.Sync(mctx, m)
			}
			if err == nil {
				retries.done(m.Key)
				if m.UpdatedAt.After(s.polledThrough) { // not read again within the overlap
					total++
				}
				continue
			}
			if errors.Is(err, store.ErrFenced) {
				// The sync lock was lost (another replica took it): not this member's failure;
				// stop, writing nothing more (the progress is fenced too).
				failed = append(failed, fmt.Errorf("member %s: %w", m.Key, store.ErrFenced))
				stop = store.ErrFenced
				break
			}
			failed = append(failed, fmt.Errorf("member %s: %w", m.Key, err))
			if ctx.Err() != nil || transient(err) {
				// What every member needs is away: stop, and read this member again.
				holdAt(m.UpdatedAt)
				stop = err
				break
			}
			if s.pollFailed(ctx, retries, m.Key, err, start) {
				holdAt(m.UpdatedAt)
			}
		}
		if stop != nil {
			break
		}
		prev := cursor
		for _, m := range members {
			if m.UpdatedAt.After(cursor) {
				cursor = m.UpdatedAt
			}
		}
		if next.After(cursor) {
			cursor = next
		}
		if len(members) < changeBatch || !cursor.After(prev) {
			break
		}
	}
	if stop == nil {
		rf := s.pollRetries(ctx, retries, seen, &gone, start)
		failed = append(failed, rf...)
		if len(rf) > 0 && errors.Is(rf[len(rf)-1], store.ErrFenced) {
			stop = store.ErrFenced // the sync lock was lost: nobody gone is deactivated
		}
	}
	lose := 0 // of gone, those with something to end: only they count, as in the reconcile
	for _, g := range gone {
		if g.lose {
			lose++
		}
	}
	if stop == nil && lose > s.cfg.ReconcileMaxGone {
		// As for a reconcile page (review s26 V-6): that many at once is taken for a wrong or
		// partly restored database; the reconcile stops on them too, until the setting is
		// raised.
		// They stay pending (review s26 R3-1): the watermark is held before the earliest of
		// their changes and the retried ones stay on the retry list, so every poll finds them
		// again and says so, until the setting is raised or the reconcile handles them.
		failed = append(failed, fmt.Errorf("%w: %d members with something to end reported gone by one poll, more than shadow.reconcile_max_gone (%d); "+
			"none deactivated; raise shadow.reconcile_max_gone if they did leave (the poll finds them again until then)",
			ErrTooManyGone, lose, s.cfg.ReconcileMaxGone))
		for _, g := range gone {
			holdAt(g.at)
		}
		gone = nil
	}
	for _, g := range gone {
		if stop != nil {
			holdAt(g.at) // not deactivated: read again by the next poll
			continue
		}
		if err := s.deactivateGone(ctx, g.subject); err != nil {
			if errors.Is(err, store.ErrFenced) {
				failed = append(failed, fmt.Errorf("member %s: %w", g.key, store.ErrFenced))
				stop = store.ErrFenced
				continue
			}
			failed = append(failed, fmt.Errorf("member %s: %w", g.key, err))
			if ctx.Err() != nil || transient(err) {
				holdAt(g.at)
				stop = err
			} else if s.pollFailed(ctx, retries, g.key, err, start) {
				holdAt(g.at)
			}
			if r := retries.rows[g.key]; r != nil && g.at.IsZero() && r.Attempts < pollHolds {
				r.Attempts = pollHolds // retried by key: no change will bring it back
			}
			continue
		}
		retries.done(g.key)
		total++
	}
	// The new watermark: the last change read, but never past the clock at the start less the
	// overlap, by the bridge's clock and by the AMS's (read before the scan, or else estimated:
	// sawStamp), and strictly before a member to read again (members sharing its change time
	// are read again too: harmless).
	mark := cursor
	if bound := start.Add(-pollOverlap); mark.After(bound) {
		mark = bound
	}
	if amsClock {
		if bound := amsNow.Add(-pollOverlap); mark.After(bound) {
			mark = bound
		}
	} else if !s.amsKnown {
		mark = since // no change time ever read: nothing tells the AMS's clock
	} else if bound := start.Add(s.amsAhead - pollOverlap); mark.After(bound) {
		mark = bound
	}
	if !hold.IsZero() {
		if safe := hold.Add(-time.Millisecond); mark.After(safe) {
			mark = safe
		}
	}
	if retries.full > 0 {
		s.log.ErrorContext(ctx, "shadow: poll: more members failing than the retry list holds; the watermark stays before the changes of those not listed, read again by every poll",
			"not_listed", retries.full, "listed", len(retries.rows), "max", maxPollRetries)
	}
	// The retry list's changes and the watermark in one transaction: a member the watermark
	// moves past is on the list when it moves (review s26 R3-7).
	put, del := retries.changes()
	if !mark.After(since) {
		mark = time.Time{}
	}
	if !mark.IsZero() || len(put) > 0 || len(del) > 0 {
		// Fenced (review s27 R5-6): refused when another replica took the sync lock meanwhile.
		if err := s.store.SetPollProgress(ctx, WatermarkName, mark, put, del, fence); err != nil {
			failed = append(failed, fmt.Errorf("watermark and retry list: %w", err))
		}
	}
	if cursor.After(s.polledThrough) {
		s.polledThrough = cursor
	}
	if total > 0 {
		s.Wake()
	}
	if len(failed) > 0 {
		return total, &pollError{errs: failed}
	}
	return total, nil
}

// pollError is Poll's error: each member's failure, and the poll's own (the change scan, the
// store, reconcile_max_gone), kept apart so that runPoller logs each at its own level (review
// s26 R3-3): one member's unconfirmed refusal does not turn another's failure, or the stop
// that asks the operator to act, into an info line. errors.Is and errors.As see each of them.
type pollError struct{ errs []error }

func (e *pollError) Error() string   { return "shadow: poll: " + errors.Join(e.errs...).Error() }
func (e *pollError) Unwrap() []error { return e.errs }

// goneMember is a changed member that the AMS no longer knows, confirmed by key.
type goneMember struct {
	key, subject string
	at           time.Time
	// lose: deactivating it ends something (anythingToEnd); only such members count towards
	// shadow.reconcile_max_gone, in the poll as in the reconcile (review s27 R5-2).
	lose bool
}

// reportedGone reports whether ChangedSince handed m back as a key the AMS no longer knows as
// a member (legacy.ChangeLister: Deleted, with its key alone).
func reportedGone(m *legacy.Member) bool { return m.Standing.Deleted && m.Login == "" }

// pollGone handles a changed key reported gone (review s26 V-5), or one retried (pollRetries):
// nothing when the bridge does not know the member; else it is looked up by key in the AMS
// itself, past the profile cache, as the reconcile does, and added to gone when the AMS does
// not know it, or synced when found.
func (s *Service) pollGone(ctx context.Context, m *legacy.Member, gone *[]goneMember) error {
	sub, err := s.store.SubjectByMemberKey(ctx, m.Key)
	if errors.Is(err, sso.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	found, err := s.freshMember(ctx, m.Key)
	switch {
	case err == nil:
		return s.syncSubject(ctx, found, sub.Subject)
	case errors.Is(err, legacy.ErrNotFound):
		lose, err := s.goneHasSomethingToEnd(ctx, sub.Subject)
		if err != nil {
			return err
		}
		*gone = append(*gone, goneMember{key: m.Key, subject: sub.Subject, at: m.UpdatedAt, lose: lose})
		return nil
	default:
		return fmt.Errorf("look up: %w", err)
	}
}

// pollFailed counts a poll at which the member's sync failed (err), on the retry list, and
// reports whether its failure still holds the watermark back (its first pollHolds polls, or
// as long as the list is full and it is not on it). A
// member left unconfirmed (ErrRefusalUnconfirmed: two reads of the AMS disagreed, warned of by
// confirmRefusal once per streak) is held and retried alike, but it is not an error (review
// s26 R3-7). Called under the sync lock.
func (s *Service) pollFailed(ctx context.Context, l *retryList, key string, err error, now time.Time) (hold bool) {
	unconfirmed := errors.Is(err, ErrRefusalUnconfirmed)
	r := l.rows[key]
	if r == nil {
		if len(l.rows) >= maxPollRetries {
			// The list is full (it never drops a member): this one is held instead, the watermark
			// kept before its change, so every poll reads it again until the list has room
			// (review s27 R5-6; before, it was left to the reconcile, and with
			// reconcile_interval: 0 nothing read it again). Poll says so once.
			l.full++
			return true
		}
		r = &store.PollRetry{MemberKey: key}
		l.rows[key] = r
		delete(l.del, key)
	}
	r.Attempts++
	r.Unconfirmed = unconfirmed
	r.NextTry = time.Time{}
	if r.Attempts > pollHolds {
		r.NextTry = now.Add(s.retryDelay(r.Attempts - pollHolds))
	}
	l.put[key] = true
	if r.Attempts == pollHolds {
		if unconfirmed {
			s.log.InfoContext(ctx, "shadow: poll: a member's refusal stays unconfirmed; the watermark moves on, the member is retried by key",
				"member_key", key, "polls", r.Attempts)
		} else {
			s.log.ErrorContext(ctx, "shadow: poll: a member keeps failing; the watermark moves on, the member is retried by key",
				"member_key", key, "polls", r.Attempts)
		}
	}
	return r.Attempts < pollHolds
}

// pollRetries syncs again, read by key past the profile cache (pollGone), the members of the
// retry list that this poll did not read among the changes and whose next try is due; one the
// AMS no longer knows is added to gone. Called under the sync lock.
func (s *Service) pollRetries(ctx context.Context, l *retryList, seen map[string]bool, gone *[]goneMember, now time.Time) []error {
	var failed []error
	keys := make([]string, 0, len(l.rows))
	for key := range l.rows {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		r := l.rows[key]
		if seen[key] || r.Attempts < pollHolds || r.NextTry.After(now) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		mctx := ctx
		if r.Unconfirmed {
			mctx = quietUnconfirmed(ctx)
		}
		n := len(*gone)
		if err := s.pollGone(mctx, &legacy.Member{Key: key}, gone); err != nil {
			if errors.Is(err, store.ErrFenced) {
				// The sync lock was lost: not this member's failure; nothing more is written.
				return append(failed, fmt.Errorf("member %s (retried): %w", key, store.ErrFenced))
			}
			s.pollFailed(ctx, l, key, err, now)
			failed = append(failed, fmt.Errorf("member %s (retried): %w", key, err))
			continue
		}
		if len(*gone) > n {
			continue // gone: Poll takes it off the list once deactivated (R3-1)
		}
		l.done(key) // synced
	}
	return failed
}

// amsClock reads the AMS database's clock (legacy.ClockReader), ok false when the directory
// has none (it does not implement it, or answers legacy.ErrNoClock). An error is the AMS's
// (amsErr): the poll stops before it reads anything, the watermark kept.
func (s *Service) amsClock(ctx context.Context) (now time.Time, ok bool, err error) {
	c, ok := s.dir.(legacy.ClockReader)
	if !ok {
		return time.Time{}, false, nil
	}
	now, err = c.DatabaseNow(ctx)
	switch {
	case errors.Is(err, legacy.ErrNoClock):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, amsErr(err)
	}
	return now, true, nil
}

// sawStamp learns from a change time read at the bridge's time read how far the AMS's clock is
// ahead of the bridge's, at least (amsAhead, negative when behind): the change was stamped by
// the AMS's clock (iMIS's application and database server, imis-schema.md "clocks") at or
// before the read, so the AMS's clock was at least that far ahead then, and, clocks running
// at one rate, is at every later instant. The watermark is bounded by the AMS's clock so
// estimated (session 27): a bridge clock ahead of the AMS's must not move it past changes the
// AMS stamped within the overlap and commits late. Only for a directory that cannot read the
// AMS's clock (legacy.ClockReader): one stamp ahead of the database's clock (iMIS's scan reads
// the web server's aspnet dates too, and Name.LAST_UPDATED in the application's local time)
// raises the estimate for the life of the process, and only the bound by the bridge's clock
// is left (review s27 R5-4). Called under the sync lock.
func (s *Service) sawStamp(at, read time.Time) {
	if at.IsZero() {
		return
	}
	if d := at.Sub(read); !s.amsKnown || d > s.amsAhead {
		s.amsAhead, s.amsKnown = d, true
	}
}

// warnClocks warns, at most once per aheadWarnEvery, when the AMS database's clock (amsNow)
// and the bridge's (now) are more than aheadWarning apart (review s28 R7-7): the watermark is
// bounded by the lower one, so every poll reads the changes between them again, and
// warnAhead, which compares stamps with the database's clock, says nothing of it. Called under
// the sync lock.
func (s *Service) warnClocks(ctx context.Context, now, amsNow time.Time) {
	apart := amsNow.Sub(now)
	if (apart < aheadWarning && apart > -aheadWarning) || (!s.clocksWarned.IsZero() && now.Sub(s.clocksWarned) < aheadWarnEvery) {
		return
	}
	s.clocksWarned = now
	s.log.WarnContext(ctx, "shadow: poll: the AMS database's and the bridge's clocks are apart; check both servers' clock synchronisation (NTP)",
		"database_ahead", apart.Round(time.Second))
}

// warnAhead warns, at most once per aheadWarnEvery (by the bridge's clock, now), of a change
// stamped well ahead of the AMS database's clock (amsNow, read before the scan; without one,
// of the bridge's): the operator's hint that the AMS's time zone offset is wrong, or that a
// stamp comes from another server's clock (review s27 R5-4). Called under the sync lock.
func (s *Service) warnAhead(ctx context.Context, m *legacy.Member, now, amsNow time.Time, amsClock bool) {
	ref, whose := now, "the bridge's clock"
	if amsClock {
		ref, whose = amsNow, "the AMS database's clock"
	}
	ahead := m.UpdatedAt.Sub(ref)
	if ahead < aheadWarning || (!s.aheadWarned.IsZero() && now.Sub(s.aheadWarned) < aheadWarnEvery) {
		return
	}
	s.aheadWarned = now
	s.log.WarnContext(ctx, "shadow: poll: a change is stamped ahead of "+whose+"; check the AMS's time zone offset (System.Database.TimeZoneOffset) and the servers' clocks",
		"member_key", m.Key, "ahead", ahead.Round(time.Second))
}
