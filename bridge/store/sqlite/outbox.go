package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

const outboxCols = `seq, id, key, type, channel, client_id, subject, payload, attempts, next_attempt,
	lease_until, created_at, delivered_at, state, last_error`

func scanOutbox(row scanner) (*store.OutboxEvent, error) {
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

func scanOutboxRows(rows *sql.Rows) ([]*store.OutboxEvent, error) {
	defer rows.Close()
	var out []*store.OutboxEvent
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// enqueue inserts events in tx (pending), setting their Seq, State and times.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, events []*store.OutboxEvent) error {
	now := s.clock()
	for _, e := range events {
		if e == nil || e.ID == "" || e.Key == "" || e.Channel == "" || e.Type == "" {
			return errors.New("outbox event needs an id, key, type and channel")
		}
		e.CreatedAt = orNow(e.CreatedAt, now)
		e.NextAttempt = orNow(e.NextAttempt, now)
		e.State, e.Attempts, e.LeaseUntil, e.DeliveredAt, e.LastError = store.OutboxPending, 0, time.Time{}, time.Time{}, ""
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, key, type, channel, client_id, subject, payload,
			next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Key, e.Type, e.Channel, e.ClientID, e.Subject, e.Payload, ts(e.NextAttempt), ts(e.CreatedAt))
		if err != nil {
			return err
		}
		if e.Seq, err = res.LastInsertId(); err != nil {
			return err
		}
		if err := supersede(ctx, tx, e, ts(now)); err != nil {
			return err
		}
	}
	return nil
}

// supersede marks the older events of e's key that e names in Supersedes superseded, when
// pending and not in flight at now, and leaves e.Supersedes naming those only. One in flight is
// left to finish, marked as stood for by e (superseded_by): if its attempt fails, MarkFailed
// supersedes it then (see store.OutboxEvent.Supersedes); e.SupersedesOnFailure names those.
func supersede(ctx context.Context, tx *sql.Tx, e *store.OutboxEvent, now int64) error {
	named := append(slices.Clone(e.Supersedes), e.SupersedesOnFailure...)
	if len(named) == 0 {
		return nil
	}
	args := []any{now, e.Key, e.Seq, e.ID}
	ph := make([]string, len(named))
	for i, id := range named {
		args = append(args, id)
		ph[i] = "?" + strconv.Itoa(len(args))
	}
	rows, err := tx.QueryContext(ctx, `UPDATE outbox SET
			state = CASE WHEN lease_until <= ?1 THEN 'superseded' ELSE state END,
			delivered_at = CASE WHEN lease_until <= ?1 THEN ?1 ELSE delivered_at END,
			superseded_by = CASE WHEN lease_until <= ?1 THEN superseded_by ELSE ?4 END
		WHERE key = ?2 AND seq < ?3 AND state = 'pending' AND id IN (`+strings.Join(ph, ", ")+`)
		RETURNING id, state`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	e.Supersedes, e.SupersedesOnFailure = nil, nil
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return err
		}
		if state == store.OutboxSuperseded {
			e.Supersedes = append(e.Supersedes, id)
		} else {
			e.SupersedesOnFailure = append(e.SupersedesOnFailure, id)
		}
	}
	return rows.Err()
}

// Enqueue writes pending events in one transaction.
func (s *Store) Enqueue(ctx context.Context, events ...*store.OutboxEvent) error {
	if len(events) == 0 {
		return nil
	}
	return wrap("enqueue", s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.enqueue(ctx, tx, events) }))
}

// EndSessionWithEvents ends one session (idempotent) and writes the events build makes of it,
// as the same transaction reads it once ended (endedSessionTx), in that transaction (see
// store.Outbox).
func (s *Store) EndSessionWithEvents(ctx context.Context, sessionID string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	var ended *store.EndedSession
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ended = nil // a run again starts over
		now := s.clock()
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

// ClaimEvents leases the due head event of each key (see store.Outbox), one client's at a
// time, preferring clients with nothing in flight (fairClaim); a claim of one key (c.Key) takes
// that key's head, due or not.
func (s *Store) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	if c.Limit <= 0 {
		c.Limit = 16
	}
	if c.Lease <= 0 {
		return nil, errors.New("sqlite: claim events: lease must be positive")
	}
	now, until := ts(c.Now), ts(c.Now.Add(c.Lease))
	if c.Key == "" {
		// The queue claims every second: an idle outbox answers from one prepared read, not
		// from fairClaim's search in a write transaction (1.4M instructions a second idle).
		due, err := readRow(ctx, s, s.st.outboxDue, scanDue, now)
		if err != nil {
			return nil, wrap("claim events", err)
		}
		if !due {
			return nil, nil
		}
	}
	var out []*store.OutboxEvent
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		q, args := fairClaim, []any{now}
		if c.Key != "" {
			// The head of a key is its oldest pending event: later ones wait behind it, even
			// while it backs off, so a receiver sees a member's changes in order.
			q, args = `SELECT o.seq FROM outbox o WHERE o.state = 'pending' AND o.lease_until <= ?1 AND o.key = ?2
				AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.key = o.key AND p.seq < o.seq)
				ORDER BY o.seq LIMIT 1`, []any{now, c.Key}
		} else if len(c.ExcludeClients) > 0 {
			ph := make([]string, len(c.ExcludeClients))
			for i, id := range c.ExcludeClients {
				args = append(args, id)
				ph[i] = "?" + strconv.Itoa(len(args))
			}
			q = strings.Replace(q, "1 = 1", `c.id NOT IN (`+strings.Join(ph, ", ")+`)`, 1)
		}
		var seqs []any
		// One event at a time, each leased before the next is chosen: its client then has one
		// in flight, and its key's next event waits behind it.
		for len(seqs) < c.Limit {
			var seq int64
			if err := tx.QueryRowContext(ctx, q, args...).Scan(&seq); errors.Is(err, sql.ErrNoRows) {
				break
			} else if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE seq = ?`, until, seq); err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		if len(seqs) == 0 {
			return nil
		}
		in := "?" + strings.Repeat(", ?", len(seqs)-1)
		rows, err := tx.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE seq IN (`+in+`) ORDER BY seq`, seqs...)
		if err != nil {
			return err
		}
		out, err = scanOutboxRows(rows)
		return err
	})
	if err != nil {
		return nil, wrap("claim events", err)
	}
	return out, nil
}

// fairClaim chooses the next event to claim at ?1: the first due head (the oldest pending event
// of its key, due, not leased) of each client with pending events, the clients with no event in
// flight first, then in queue order. Slow targets then hold one worker each before any holds a
// second, and another app's event (a back-channel logout) queued behind theirs is claimed next
// (review s15 X-5). Each client costs three index searches (migration 26's outbox_client and
// outbox_client_lease, outbox_key), whatever the backlog: the clients are read by skipping
// through outbox_client (a loose index scan), not by reading every pending event. A client's
// first due head is searched in outbox_client_due (migration 27: client, next_attempt, seq) from
// its first event due: its events waiting to retry are not walked (by outbox_client, in queue
// order, they were, row by row, on every claim), and its due heads go in the order they fell
// due (its new events, due when queued, in queue order). INDEXED BY:
// without statistics the planner reads outbox_state (every pending event) instead. "1 = 1" is
// where ClaimEvents puts the excluded clients.
const fairClaim = `WITH RECURSIVE c(id) AS (
	SELECT (SELECT client_id FROM outbox INDEXED BY outbox_client WHERE state = 'pending' ORDER BY client_id LIMIT 1)
	UNION ALL
	SELECT (SELECT client_id FROM outbox INDEXED BY outbox_client WHERE state = 'pending' AND client_id > c.id ORDER BY client_id LIMIT 1)
	FROM c WHERE c.id IS NOT NULL
), heads AS (
	SELECT (SELECT o.seq FROM outbox o INDEXED BY outbox_client_due WHERE o.state = 'pending' AND o.client_id = c.id
			AND o.next_attempt <= ?1 AND o.lease_until <= ?1
			AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.key = o.key AND p.seq < o.seq)
			ORDER BY o.next_attempt, o.seq LIMIT 1) AS seq,
		EXISTS (SELECT 1 FROM outbox f INDEXED BY outbox_client_lease WHERE f.state = 'pending' AND f.client_id = c.id AND f.lease_until > ?1) AS busy
	FROM c WHERE c.id IS NOT NULL AND 1 = 1
)
SELECT seq FROM heads WHERE seq IS NOT NULL ORDER BY busy, seq LIMIT 1`

// outboxDueQuery says whether an event may be claimable at ?1: one pending, due and not leased.
// Every event fairClaim can choose is one (the converse need not hold: one waiting behind its
// key's head, or of an excluded client, makes ClaimEvents search and find nothing), so an
// answer of no is a claim that would find nothing. One search of outbox_pending (next_attempt,
// seq) from the start: nothing is read when nothing is due, whatever waits to retry later.
const outboxDueQuery = `SELECT EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_pending
	WHERE state = 'pending' AND next_attempt <= ?1 AND lease_until <= ?1)`

func scanDue(row scanner) (bool, error) {
	var due bool
	err := row.Scan(&due)
	return due, err
}

// MarkDelivered records a delivery by the claim whose lease ends at lease (see store.Outbox).
func (s *Store) MarkDelivered(ctx context.Context, id string, lease, at time.Time) error {
	res, err := s.wexec(ctx, `UPDATE outbox SET state = 'delivered', delivered_at = ?, lease_until = 0, last_error = ''
		WHERE id = ? AND state = 'pending' AND lease_until = ?`, ts(at), id, ts(lease))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			err = s.notHeld(ctx, id)
		}
		return wrap("mark delivered", err)
	}
	return nil
}

// MarkSkipped records that the claim whose lease ends at lease found nothing to send (see
// store.Outbox).
func (s *Store) MarkSkipped(ctx context.Context, id string, lease, at time.Time, why string) error {
	if len(why) > 1000 {
		why = why[:1000]
	}
	res, err := s.wexec(ctx, `UPDATE outbox SET state = 'skipped', delivered_at = ?, lease_until = 0, last_error = ?
		WHERE id = ? AND state = 'pending' AND lease_until = ?`, ts(at), why, id, ts(lease))
	if err := affectedOne(res, err); err != nil {
		if isNoRows(err) {
			err = s.notHeld(ctx, id)
		}
		return wrap("mark skipped", err)
	}
	return nil
}

// MarkFailed records a failed attempt by the claim whose lease ends at lease (see store.Outbox).
// A delivered event stays delivered. A retryable failure of an event that a later pending
// event of its key stands for (superseded_by, set while it was in flight) supersedes it instead
// (store.ErrSuperseded): the newer state is the key's head at once.
func (s *Store) MarkFailed(ctx context.Context, id string, lease, next time.Time, lastError string, dead bool) error {
	state := store.OutboxPending
	if dead {
		state = store.OutboxDead
	}
	if len(lastError) > 1000 {
		lastError = lastError[:1000]
	}
	var got string
	err := s.writeRow(ctx, markFailed, []any{state, ts(next), lastError, id, ts(lease), dead, ts(s.clock())}, &got)
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

// markFailed records a failed attempt (?1 the state it leaves the event in, ?6 whether that is
// dead) and returns the state the event is left in: superseded, instead of pending, when a
// later pending event of its key stands for it (supersededOnFailure).
const markFailed = `UPDATE outbox SET
		state = CASE WHEN ` + supersededOnFailure + ` THEN 'superseded' ELSE ?1 END,
		delivered_at = CASE WHEN ` + supersededOnFailure + ` THEN ?7 ELSE delivered_at END,
		next_attempt = ?2, lease_until = 0, last_error = ?3
	WHERE id = ?4 AND state = 'pending' AND lease_until = ?5
	RETURNING state`

// supersededOnFailure holds for a retryable failure (?6 false) of an event that a later event
// of its key, still pending, stands for (written while this one was in flight).
const supersededOnFailure = `(NOT ?6 AND superseded_by <> '' AND EXISTS (SELECT 1 FROM outbox b
		WHERE b.id = outbox.superseded_by AND b.key = outbox.key AND b.seq > outbox.seq AND b.state = 'pending'))`

// notHeld explains an outcome that matched no row: nil when the event is delivered or skipped (a late
// outcome changes nothing), store.ErrLeaseLost when another claim holds it or its outcome is
// recorded, sql.ErrNoRows when there is no such event.
func (s *Store) notHeld(ctx context.Context, id string) error {
	var state string
	if err := s.r.QueryRowContext(ctx, `SELECT state FROM outbox WHERE id = ?`, id).Scan(&state); err != nil {
		return err
	}
	if state == store.OutboxDelivered || state == store.OutboxSkipped {
		return nil
	}
	return store.ErrLeaseLost
}

// OutboxEvent returns one event by id.
func (s *Store) OutboxEvent(ctx context.Context, id string) (*store.OutboxEvent, error) {
	e, err := scanOutbox(s.r.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id))
	if err != nil {
		return nil, wrap("outbox event", err)
	}
	return e, nil
}

// OutboxEvents lists events matching f, oldest first.
func (s *Store) OutboxEvents(ctx context.Context, f store.OutboxFilter) ([]*store.OutboxEvent, error) {
	q, args := `SELECT `+outboxCols+` FROM outbox WHERE 1 = 1`, []any{}
	if f.State != "" {
		q, args = q+` AND state = ?`, append(args, f.State)
	}
	if f.ClientID != "" {
		q, args = q+` AND client_id = ?`, append(args, f.ClientID)
	}
	if f.Subject != "" {
		q, args = q+` AND subject = ?`, append(args, f.Subject)
	}
	if f.Key != "" {
		q, args = q+` AND key = ?`, append(args, f.Key)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY seq LIMIT ?`, append(args, min(limit, 10000))...)
	if err != nil {
		return nil, wrap("outbox events", err)
	}
	out, err := scanOutboxRows(rows)
	return out, wrap("outbox events", err)
}

// OutboxCounts counts events by state.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbox GROUP BY state`)
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
	q, args := `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt = ?, lease_until = 0 WHERE state = 'dead'
		AND NOT EXISTS (SELECT 1 FROM outbox later WHERE later.key = outbox.key AND later.seq > outbox.seq)`, []any{ts(now)}
	if id != "" {
		q, args = q+` AND id = ?`, append(args, id)
	}
	res, err := s.wexec(ctx, q, args...)
	if err != nil {
		return 0, wrap("retry events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("retry events", err)
	}
	if id != "" && n == 0 {
		if _, err := s.OutboxEvent(ctx, id); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("sqlite: retry events: event %s is not dead, or a later event for the same member and app superseded it", id)
	}
	return int(n), nil
}

// PurgeDelivered deletes events delivered before t, except those of a key with a dead event:
// they supersede it, and RetryEvents finds that out from them (a retry after they were gone
// would deliver the dead event's stale state after theirs), and so are events skipped before t;
// and events superseded before t.
func (s *Store) PurgeDelivered(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.wexec(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
			WHERE state IN ('delivered', 'skipped') AND delivered_at < ? AND key NOT IN (SELECT key FROM outbox WHERE state = 'dead') LIMIT ?)`,
			ts(before), purgeBatch)
		if err != nil {
			return total, wrap("purge delivered", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("purge delivered", err)
		}
		total += n
		if n < purgeBatch {
			break
		}
	}
	for {
		res, err := s.wexec(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
			WHERE state = 'superseded' AND delivered_at < ? LIMIT ?)`, ts(before), purgeBatch)
		if err != nil {
			return total, wrap("purge superseded", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("purge superseded", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
