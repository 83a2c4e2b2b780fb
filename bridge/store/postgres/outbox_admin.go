package postgres

import (
	"context"
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// DiscardEvent deletes one dead event (store.OutboxAdmin).
func (s *Store) DiscardEvent(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE id = $1 AND state = 'dead'`, id)
	if err != nil {
		return wrap("discard event", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	ev, err := s.OutboxEvent(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("postgres: discard event %s (%s): %w", id, ev.State, store.ErrNotDead)
}

// OutboxTargets counts pending and dead events per channel and client in one aggregate query
// (store.OutboxAdmin).
func (s *Store) OutboxTargets(ctx context.Context) ([]store.OutboxTarget, error) {
	rows, err := s.pool.Query(ctx, store.OutboxTargetsSQL)
	if err != nil {
		return nil, wrap("outbox targets", err)
	}
	defer rows.Close()
	out, err := store.ScanOutboxTargets(rows, tm)
	return out, wrap("outbox targets", err)
}

var _ store.OutboxAdmin = (*Store)(nil)
