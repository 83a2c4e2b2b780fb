package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
)

const outboxCols = `seq, id, key, type, channel, client_id, subject, payload, attempts, next_attempt,
	lease_until, created_at, delivered_at, state, last_error`

func scanOutbox(row pgx.Row) (*store.OutboxEvent, error) {
	var (
		e                               store.OutboxEvent
		next, lease, created, delivered int64
	)
	if err := row.Scan(&e.Seq, &e.ID, &e.Key, &e.Type, &e.Channel, &e.ClientID, &e.Subject, &e.Payload, &e.Attempts,
		&next, &lease, &created, &delivered, &e.State, &e.LastError); err != nil {
		return nil, err
	}
	e.NextAttempt, e.LeaseUntil, e.CreatedAt, e.DeliveredAt = tm(next), tm(lease), tm(created), tm(delivered)
	return &e, nil
}

// enqueue inserts events in tx (pending), setting their Seq, State and times.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, events []*store.OutboxEvent) error {
	now := s.clock()
	for _, e := range events {
		if e == nil || e.ID == "" || e.Key == "" || e.Channel == "" || e.Type == "" {
			return errors.New("outbox event needs an id, key, type and channel")
		}
		e.CreatedAt = orNow(e.CreatedAt, now)
		e.NextAttempt = orNow(e.NextAttempt, now)
		e.State, e.Attempts, e.LeaseUntil, e.DeliveredAt, e.LastError = store.OutboxPending, 0, time.Time{}, time.Time{}, ""
		if err := tx.QueryRow(ctx, `INSERT INTO outbox (id, key, type, channel, client_id, subject, payload,
			next_attempt, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
			e.ID, e.Key, e.Type, e.Channel, e.ClientID, e.Subject, e.Payload, ts(e.NextAttempt), ts(e.CreatedAt)).Scan(&e.Seq); err != nil {
			return err
		}
		if err := supersede(ctx, tx, e, ts(now)); err != nil {
			return err
		}
	}
	return nil
}

// supersede marks the older events of e's key that e names in Supersedes superseded, when
// pending and not in flight at now, and leaves e.Supersedes naming those only. A claim that
// leased one first is waited for (the row lock) and the lease seen, so it is left to finish,
// marked as stood for by e (superseded_by; e.SupersedesOnFailure names those): if its attempt
// fails, MarkFailed supersedes it then; one that comes after finds it no longer pending.
func supersede(ctx context.Context, tx pgx.Tx, e *store.OutboxEvent, now int64) error {
	named := append(slices.Clone(e.Supersedes), e.SupersedesOnFailure...)
	if len(named) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `UPDATE outbox SET
			state = CASE WHEN lease_until <= $1 THEN 'superseded' ELSE state END,
			delivered_at = CASE WHEN lease_until <= $1 THEN $1 ELSE delivered_at END,
			superseded_by = CASE WHEN lease_until <= $1 THEN superseded_by ELSE $5 END
		WHERE key = $2 AND seq < $3 AND state = 'pending' AND id = ANY($4)
		RETURNING id, state`, now, e.Key, e.Seq, named, e.ID)
	if err != nil {
		return err
	}
	e.Supersedes, e.SupersedesOnFailure = nil, nil
	var id, state string
	_, err = pgx.ForEachRow(rows, []any{&id, &state}, func() error {
		if state == store.OutboxSuperseded {
			e.Supersedes = append(e.Supersedes, id)
		} else {
			e.SupersedesOnFailure = append(e.SupersedesOnFailure, id)
		}
		return nil
	})
	return err
}

// Enqueue writes pending events in one transaction.
func (s *Store) Enqueue(ctx context.Context, events ...*store.OutboxEvent) error {
	if len(events) == 0 {
		return nil
	}
	return wrap("enqueue", s.tx(ctx, func(tx pgx.Tx) error { return s.enqueue(ctx, tx, events) }))
}

// EndSessionWithEvents ends one session (idempotent) and writes the events build makes of it,
// as the same transaction reads it once ended (endedSessionTx), in that transaction (see
// store.Outbox).
func (s *Store) EndSessionWithEvents(ctx context.Context, sessionID string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	var ended *store.EndedSession
	err := s.tx(ctx, func(tx pgx.Tx) error {
		ended = nil // a run again starts over
		now := ts(s.clock())
		live, err := endSessionTx(ctx, tx, now, sessionID)
		if err != nil || !live {
			return err
		}
		e, err := endedSessionTx(ctx, tx, now, sessionID)
		if err != nil || build == nil {
			ended = e
			return err
		}
		events, err := build(e)
		if err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, events); err != nil {
			return err
		}
		ended = e
		return nil
	})
	if err != nil {
		return nil, wrap("end session with events", err)
	}
	return ended, nil
}

// ClaimEvents leases the due head event of each key (see store.Outbox), one at a time, each the
// next of fairClaim: the clients with nothing in flight first (review s15 X-5). A claim of one
// event (the queue's) is one statement; a claim of several runs one per event in one
// transaction (each sees the leases of the ones before it), so a failure partway leases none,
// where leases committed one by one stayed, attempts counted, with nothing returned to deliver
// them. Replicas claim at the same time without waiting for each other: the chosen row is locked
// FOR UPDATE SKIP LOCKED, so a row another replica is claiming right now is passed over (the
// statement is sent again without it: claimNext), and a row whose lease another replica has
// just committed fails the re-checked lease condition. A key's later events wait behind its
// head while the head is pending, leased or not, so two replicas never deliver two events of
// one key at once. A claimer that dies leaves its lease to run out; the next claim after that
// takes the event again (its attempt counted).
func (s *Store) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	if c.Limit <= 0 {
		c.Limit = 16
	}
	if c.Lease <= 0 {
		return nil, errors.New("postgres: claim events: lease must be positive")
	}
	now, until := ts(c.Now), ts(c.Now.Add(c.Lease))
	next := func(q querier) (*store.OutboxEvent, error) {
		if c.Key != "" {
			return scanOutbox(q.QueryRow(ctx, claimKey, now, until, c.Key))
		}
		return s.claimNext(ctx, q, now, until, c.ExcludeClients)
	}
	var out []*store.OutboxEvent
	var err error
	if c.Limit == 1 {
		var e *store.OutboxEvent
		if e, err = next(s.pool); err == nil {
			out = append(out, e)
		} else if isNoRows(err) {
			err = nil
		}
	} else {
		err = s.tx(ctx, func(tx pgx.Tx) error {
			out = out[:0]
			for len(out) < c.Limit {
				e, err := next(tx)
				if isNoRows(err) {
					return nil // commits the leases taken
				}
				if err != nil {
					return err
				}
				out = append(out, e)
			}
			return nil
		})
	}
	if err != nil {
		return nil, wrap("claim events", err)
	}
	sortBySeq(out)
	return out, nil
}

// claimKey leases the head of key $3 (a sign-in's synchronous delivery), due or not.
var claimKey = `WITH claimable AS (
		SELECT o.seq FROM outbox o
		WHERE o.state = 'pending' AND o.lease_until <= $1 AND o.key = $3
			AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.key = o.key AND p.seq < o.seq)
		ORDER BY o.seq LIMIT 1
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET lease_until = $2, attempts = attempts + 1
	FROM claimable WHERE outbox.seq = claimable.seq
	RETURNING ` + prefixed("outbox.", outboxCols)

// maxPassedOver bounds the heads one claim passes over because other replicas are claiming them
// at the same moment: past it the claim ends empty (the queue claims again at its next round).
const maxPassedOver = 16

// claimNext leases fairClaim's choice, or returns pgx.ErrNoRows when nothing is due. A choice
// another replica holds locked comes back unclaimed: it is passed over (fairClaim's $3) and
// the statement sent again, so that a claim ends empty only when nothing else is due.
func (s *Store) claimNext(ctx context.Context, q querier, now, until int64, exclude []string) (*store.OutboxEvent, error) {
	if exclude == nil {
		exclude = []string{}
	}
	passed := []int64{}
	for {
		var claimed bool
		e, err := scanOutbox(prefixedRow{q.QueryRow(ctx, fairClaim, now, until, passed, exclude), &claimed})
		if err != nil || claimed {
			return e, err
		}
		if passed = append(passed, e.Seq); len(passed) > maxPassedOver {
			return nil, pgx.ErrNoRows
		}
	}
}

// prefixedRow scans its first column into first, the rest into Scan's destinations.
type prefixedRow struct {
	pgx.Row
	first any
}

func (r prefixedRow) Scan(dest ...any) error { return r.Row.Scan(append([]any{r.first}, dest...)...) }

// fairClaim leases the next event to claim at $1 until $2: the first due head (the oldest
// pending event of its key, due, not leased) of each client with pending events but those in
// $4, the clients with no event in flight first, then in queue order. Slow targets then hold
// one worker each before any holds a second, and another app's event (a back-channel logout)
// queued behind theirs is claimed next. It returns the leased event (first column true), or the
// chosen one unleased (false) when another replica holds it locked (claimNext passes over the
// events in $3), or no row when nothing is due.
//
// Its cost is a few index searches per client, whatever the backlog, and its plan has no choice
// that reads the pending events (TestClaimPlan): the clients are read by skipping through a
// client index (a loose index scan); each client's first due head is the first event of
// outbox_client_due (migration 18: client, next_attempt, seq) at or before $1 whose key has
// nothing older pending (an outbox_key search), so events waiting to retry are not walked, and
// a client's due heads go in the order they fell due; whether a client has an event in flight
// is one outbox_client_lease search (its latest lease); and the row chosen is read by its ctid
// from the statement's snapshot (a TID scan, the only plan), the only row locked. Before
// (session 17) the choice was joined to the outbox, a join the planner without statistics made
// by reading every pending event, and each client's first 16 heads were ranked for a locked one
// to be passed over.
//
// The lock re-checks all that makes the head due (pending, not leased, next_attempt reached) on
// the row's latest version (the ctid is not re-checked: it is the same event): a head another
// replica claimed, failed (its backoff set) and committed after this statement's snapshot is
// passed over, not claimed again before its backoff.
var fairClaim = `WITH RECURSIVE c(id) AS (
		SELECT (SELECT client_id FROM outbox WHERE state = 'pending' ORDER BY client_id LIMIT 1)
		UNION ALL
		SELECT (SELECT client_id FROM outbox WHERE state = 'pending' AND client_id > c.id ORDER BY client_id LIMIT 1)
		FROM c WHERE c.id IS NOT NULL
	), heads AS (
		SELECT h.seq, h.ctid,
			(SELECT max(f.lease_until) FROM outbox f WHERE f.state = 'pending' AND f.client_id = c.id) > $1 AS busy
		FROM c CROSS JOIN LATERAL (
			SELECT o.seq, o.ctid FROM outbox o
			WHERE o.state = 'pending' AND o.client_id = c.id AND o.next_attempt <= $1 AND o.lease_until <= $1
				AND o.seq <> ALL ($3::bigint[])
				AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.key = o.key AND p.seq < o.seq)
			ORDER BY o.next_attempt, o.seq LIMIT 1) h
		WHERE c.id IS NOT NULL AND c.id <> ALL ($4::text[])
	), pick AS (
		SELECT ctid FROM heads ORDER BY busy, seq LIMIT 1
	), claimable AS (
		SELECT o.seq FROM outbox o
		WHERE o.ctid = (SELECT ctid FROM pick)
			AND o.state = 'pending' AND o.lease_until <= $1 AND o.next_attempt <= $1
		FOR UPDATE SKIP LOCKED
	), claimed AS (
		UPDATE outbox SET lease_until = $2, attempts = attempts + 1
		FROM claimable WHERE outbox.seq = claimable.seq
		RETURNING ` + prefixed("outbox.", outboxCols) + `
	)
	SELECT TRUE, * FROM claimed
	UNION ALL
	SELECT FALSE, ` + outboxCols + ` FROM outbox
	WHERE ctid = (SELECT ctid FROM pick) AND NOT EXISTS (SELECT 1 FROM claimed)`

// MarkDelivered records a delivery by the claim whose lease ends at lease (see store.Outbox).
func (s *Store) MarkDelivered(ctx context.Context, id string, lease, at time.Time) error {
	err := execOne(ctx, s.pool, `UPDATE outbox SET state = 'delivered', delivered_at = $1, lease_until = 0, last_error = ''
		WHERE id = $2 AND state = 'pending' AND lease_until = $3`, ts(at), id, ts(lease))
	if isNoRows(err) {
		err = s.notHeld(ctx, id)
	}
	return wrap("mark delivered", err)
}

// MarkSkipped records that the claim whose lease ends at lease found nothing to send (see
// store.Outbox).
func (s *Store) MarkSkipped(ctx context.Context, id string, lease, at time.Time, why string) error {
	if len(why) > 1000 {
		why = why[:1000]
	}
	err := execOne(ctx, s.pool, `UPDATE outbox SET state = 'skipped', delivered_at = $1, lease_until = 0, last_error = $2
		WHERE id = $3 AND state = 'pending' AND lease_until = $4`, ts(at), why, id, ts(lease))
	if isNoRows(err) {
		err = s.notHeld(ctx, id)
	}
	return wrap("mark skipped", err)
}

// MarkFailed records a failed attempt by the claim whose lease ends at lease (see store.Outbox).
// A delivered event stays delivered. A retryable failure of an event that a later pending
// event of its key stands for (superseded_by, set while it was in flight) supersedes it instead
// (store.ErrSuperseded): the newer state is the key's head at once. That event cannot change
// meanwhile: it waits behind this one, which the lease holds.
func (s *Store) MarkFailed(ctx context.Context, id string, lease, next time.Time, lastError string, dead bool) error {
	state := store.OutboxPending
	if dead {
		state = store.OutboxDead
	}
	if len(lastError) > 1000 {
		lastError = lastError[:1000]
	}
	var got string
	err := s.pool.QueryRow(ctx, markFailed, state, ts(next), lastError, id, ts(lease), dead, ts(s.clock())).Scan(&got)
	if err != nil {
		if isNoRows(err) {
			err = s.notHeld(ctx, id)
		}
		return wrap("mark failed", err)
	}
	if got == store.OutboxSuperseded {
		return store.ErrSuperseded
	}
	return nil
}

// markFailed records a failed attempt ($1 the state it leaves the event in, $6 whether that is
// dead) and returns the state the event is left in: superseded, instead of pending, when a
// later pending event of its key stands for it (supersededOnFailure).
const markFailed = `UPDATE outbox SET
		state = CASE WHEN ` + supersededOnFailure + ` THEN 'superseded' ELSE $1 END,
		delivered_at = CASE WHEN ` + supersededOnFailure + ` THEN $7 ELSE delivered_at END,
		next_attempt = $2, lease_until = 0, last_error = $3
	WHERE id = $4 AND state = 'pending' AND lease_until = $5
	RETURNING state`

// supersededOnFailure holds for a retryable failure ($6 false) of an event that a later event
// of its key, still pending, stands for (written while this one was in flight).
const supersededOnFailure = `(NOT $6::boolean AND superseded_by <> '' AND EXISTS (SELECT 1 FROM outbox b
		WHERE b.id = outbox.superseded_by AND b.key = outbox.key AND b.seq > outbox.seq AND b.state = 'pending'))`

// notHeld explains an outcome that matched no row: nil when the event is delivered or skipped (a late
// outcome changes nothing), store.ErrLeaseLost when another claim holds it or its outcome is
// recorded, pgx.ErrNoRows when there is no such event.
func (s *Store) notHeld(ctx context.Context, id string) error {
	var state string
	if err := s.pool.QueryRow(ctx, `SELECT state FROM outbox WHERE id = $1`, id).Scan(&state); err != nil {
		return err
	}
	if state == store.OutboxDelivered || state == store.OutboxSkipped {
		return nil
	}
	return store.ErrLeaseLost
}

// OutboxEvent returns one event by id.
func (s *Store) OutboxEvent(ctx context.Context, id string) (*store.OutboxEvent, error) {
	e, err := scanOutbox(s.pool.QueryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = $1`, id))
	if err != nil {
		return nil, wrap("outbox event", err)
	}
	return e, nil
}

// OutboxEvents lists events matching f, oldest first.
func (s *Store) OutboxEvents(ctx context.Context, f store.OutboxFilter) ([]*store.OutboxEvent, error) {
	q, args := `SELECT `+outboxCols+` FROM outbox WHERE TRUE`, []any{}
	add := func(col string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(` AND %s = $%d`, col, len(args))
	}
	if f.State != "" {
		add("state", f.State)
	}
	if f.ClientID != "" {
		add("client_id", f.ClientID)
	}
	if f.Subject != "" {
		add("subject", f.Subject)
	}
	if f.Key != "" {
		add("key", f.Key)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, min(limit, 10000))
	rows, err := s.pool.Query(ctx, q+fmt.Sprintf(` ORDER BY seq LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, wrap("outbox events", err)
	}
	out, err := collect(rows, scanOutbox)
	return out, wrap("outbox events", err)
}

// OutboxCounts counts events by state.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, COUNT(*) FROM outbox GROUP BY state`)
	if err != nil {
		return nil, wrap("outbox counts", err)
	}
	defer rows.Close()
	out := map[string]int{store.OutboxPending: 0, store.OutboxDelivered: 0, store.OutboxDead: 0, store.OutboxSuperseded: 0,
		store.OutboxSkipped: 0}
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, wrap("outbox counts", err)
		}
		out[state] = n
	}
	return out, wrap("outbox counts", rows.Err())
}

// RetryEvents re-queues dead events (one, or all when id is empty). A dead event that a later
// event of the same key has superseded stays dead: re-sending it would deliver stale state after
// newer state (a deactivated user could come back).
func (s *Store) RetryEvents(ctx context.Context, id string, now time.Time) (int, error) {
	q, args := `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt = $1, lease_until = 0 WHERE state = 'dead'
		AND NOT EXISTS (SELECT 1 FROM outbox later WHERE later.key = outbox.key AND later.seq > outbox.seq)`, []any{ts(now)}
	if id != "" {
		q, args = q+` AND id = $2`, append(args, id)
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, wrap("retry events", err)
	}
	n := tag.RowsAffected()
	if id != "" && n == 0 {
		if _, err := s.OutboxEvent(ctx, id); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("postgres: retry events: event %s is not dead, or a later event for the same member and app superseded it", id)
	}
	return int(n), nil
}

// PurgeDelivered deletes events delivered before t, except those of a key with a dead event:
// they supersede it, and RetryEvents finds that out from them (a retry after they were gone
// would deliver the dead event's stale state after theirs), and so are events skipped before t;
// and events superseded before t.
func (s *Store) PurgeDelivered(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeBatches(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
		WHERE state = 'delivered' AND delivered_at < $1 AND key NOT IN (SELECT key FROM outbox WHERE state = 'dead') LIMIT $2)`, ts(before))
	if err != nil {
		return n, wrap("purge delivered", err)
	}
	m, err := s.purgeBatches(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
		WHERE state = 'skipped' AND delivered_at < $1 AND key NOT IN (SELECT key FROM outbox WHERE state = 'dead') LIMIT $2)`, ts(before))
	n += m
	if err != nil {
		return n, wrap("purge skipped", err)
	}
	m, err = s.purgeBatches(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
		WHERE state = 'superseded' AND delivered_at < $1 LIMIT $2)`, ts(before))
	return n + m, wrap("purge superseded", err)
}
