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

var _ store.OutboxAdmin = (*Store)(nil)
