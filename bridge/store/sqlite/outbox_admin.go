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

// OutboxTargets counts pending and dead events per channel and client in one aggregate query
// (store.OutboxAdmin).
func (s *Store) OutboxTargets(ctx context.Context) ([]store.OutboxTarget, error) {
	rows, err := s.r.QueryContext(ctx, store.OutboxTargetsSQL)
	if err != nil {
		return nil, wrap("outbox targets", err)
	}
	defer rows.Close()
	out, err := store.ScanOutboxTargets(rows, tm)
	return out, wrap("outbox targets", err)
}

var _ store.OutboxAdmin = (*Store)(nil)
