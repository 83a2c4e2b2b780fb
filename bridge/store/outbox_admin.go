package store

import (
	"context"
	"errors"
	"time"
)

// OutboxAdmin is what an administrator does to the outbox beyond retrying (Outbox.RetryEvents).
type OutboxAdmin interface {
	// DiscardEvent deletes one dead event (a dead letter the administrator gave up on) and
	// reports nothing else changed; sso.ErrNotFound when there is no such event, ErrNotDead
	// (wrapped) when the event is pending or delivered, which is never discarded.
	DiscardEvent(ctx context.Context, id string) error
	// OutboxTargets counts the pending, dead and superseded events of each channel and client,
	// with the creation time of the oldest pending one, aggregated in the store (the metrics
	// read it at every scrape, whatever the backlog). Targets with none are left out.
	OutboxTargets(ctx context.Context) ([]OutboxTarget, error)
}

// OutboxTarget is the outbox's backlog for one channel and client.
type OutboxTarget struct {
	Channel, ClientID string
	Pending, Dead     int
	OldestPending     time.Time // zero when nothing is pending
	// Superseded events (kept until purged with the delivered ones: store.OutboxSuperseded).
	Superseded int
}

// ErrNotDead is DiscardEvent's answer for an event that is not a dead letter.
var ErrNotDead = errors.New("the event is not a dead letter")

// ErrLeaseLost is MarkDelivered's and MarkFailed's answer to a claimer whose lease ran out and
// whose event another claim has taken since (or whose outcome is already recorded): the outcome
// is not recorded, so a late replica can neither release another replica's live lease nor mark
// over its outcome.
var ErrLeaseLost = errors.New("the event's lease is held by a later claim")

// ErrSuperseded is MarkFailed's answer when the failure was recorded and the event superseded
// by it: a later event of its key, written while this one was in flight, stands for it
// (OutboxEvent.Supersedes), so it is never retried and that event is the key's head at once.
var ErrSuperseded = errors.New("the failed event is superseded by a later event of its key")

// OutboxTargetsSQL is OutboxTargets' aggregate query, the same on both backends: channel,
// client, pending count, dead count, the oldest pending creation time (0: none), superseded
// count.
const OutboxTargetsSQL = `SELECT channel, client_id,
	SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
	SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END),
	COALESCE(MIN(CASE WHEN state = 'pending' THEN created_at END), 0),
	SUM(CASE WHEN state = 'superseded' THEN 1 ELSE 0 END)
	FROM outbox WHERE state IN ('pending', 'dead', 'superseded') GROUP BY channel, client_id ORDER BY channel, client_id`

// Rows is what both backends' query results offer (database/sql and pgx).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanOutboxTargets reads OutboxTargetsSQL's rows; at turns a stored time into a time.Time.
func ScanOutboxTargets(rows Rows, at func(int64) time.Time) ([]OutboxTarget, error) {
	var out []OutboxTarget
	for rows.Next() {
		var (
			t      OutboxTarget
			oldest int64
		)
		if err := rows.Scan(&t.Channel, &t.ClientID, &t.Pending, &t.Dead, &oldest, &t.Superseded); err != nil {
			return nil, err
		}
		if t.Pending > 0 {
			t.OldestPending = at(oldest)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
