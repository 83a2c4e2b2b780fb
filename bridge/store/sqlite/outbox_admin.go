package sqlite

import (
	"context"
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// DiscardEvent deletes one dead event (store.OutboxAdmin).
func (s *Store) DiscardEvent(ctx context.Context, id string) error {
	res, err := s.wexec(ctx, `DELETE FROM outbox WHERE id = ? AND state = 'dead'`, id)
	if err != nil {
		return wrap("discard event", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("discard event", err)
	}
	if n == 1 {
		return nil
	}
	ev, err := s.OutboxEvent(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("sqlite: discard event %s (%s): %w", id, ev.State, store.ErrNotDead)
}

var _ store.OutboxAdmin = (*Store)(nil)
