package store

import (
	"context"
	"errors"
)

// OutboxAdmin is what an administrator does to the outbox beyond retrying (Outbox.RetryEvents).
type OutboxAdmin interface {
	// DiscardEvent deletes one dead event (a dead letter the administrator gave up on) and
	// reports nothing else changed; sso.ErrNotFound when there is no such event, ErrNotDead
	// (wrapped) when the event is pending or delivered, which is never discarded.
	DiscardEvent(ctx context.Context, id string) error
}

// ErrNotDead is DiscardEvent's answer for an event that is not a dead letter.
var ErrNotDead = errors.New("the event is not a dead letter")
