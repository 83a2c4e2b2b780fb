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
	rows, err := s.pool.Query(ctx, `SELECT channel, client_id,
		SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END),
		COALESCE(MIN(CASE WHEN state = 'pending' THEN created_at END), 0)
		FROM outbox WHERE state IN ('pending', 'dead') GROUP BY channel, client_id ORDER BY channel, client_id`)
	if err != nil {
		return nil, wrap("outbox targets", err)
	}
	defer rows.Close()
	var out []store.OutboxTarget
	for rows.Next() {
		var (
			t      store.OutboxTarget
			oldest int64
		)
		if err := rows.Scan(&t.Channel, &t.ClientID, &t.Pending, &t.Dead, &oldest); err != nil {
			return nil, wrap("outbox targets", err)
		}
		if t.Pending > 0 {
			t.OldestPending = tm(oldest)
		}
		out = append(out, t)
	}
	return out, wrap("outbox targets", rows.Err())
}

var _ store.OutboxAdmin = (*Store)(nil)
