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
	// OutboxTargets counts the pending and dead events of each channel and client, with the
	// creation time of the oldest pending one, aggregated in the store (the metrics read it at
	// every scrape, whatever the backlog). Targets with neither are left out.
	OutboxTargets(ctx context.Context) ([]OutboxTarget, error)
}

// OutboxTarget is the outbox's backlog for one channel and client.
type OutboxTarget struct {
	Channel, ClientID string
	Pending, Dead     int
	OldestPending     time.Time // zero when nothing is pending
}

// ErrNotDead is DiscardEvent's answer for an event that is not a dead letter.
var ErrNotDead = errors.New("the event is not a dead letter")

// ErrLeaseLost is MarkDelivered's and MarkFailed's answer to a claimer whose lease ran out and
// whose event another claim has taken since (or whose outcome is already recorded): the outcome
// is not recorded, so a late replica can neither release another replica's live lease nor mark
// over its outcome.
var ErrLeaseLost = errors.New("the event's lease is held by a later claim")
