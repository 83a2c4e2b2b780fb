package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Reseal re-seals every sealed value in one write transaction (see store.Resealer).
func (s *Store) Reseal(ctx context.Context, reseal func(store.SealedValue) ([]byte, error)) (int, error) {
	var n int
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0 // writeTx may run fn again in a new transaction
		for _, c := range store.SealedColumns {
			vals, err := readSealed(ctx, tx, c)
			if err != nil {
				return err
			}
			for _, v := range vals {
				sealed, err := reseal(v)
				if err != nil {
					return fmt.Errorf("%s %q: %w", v.Kind, v.Name, err)
				}
				if err := affectedOne(tx.ExecContext(ctx, `UPDATE `+c.Table+` SET `+c.Value+` = ? WHERE `+c.Key+` = ?`, sealed, v.Name)); err != nil {
					return fmt.Errorf("%s %q: %w", v.Kind, v.Name, err)
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, wrap("reseal", err)
	}
	return n, nil
}

// readSealed reads a sealed column whole (its rows are changed after the read).
func readSealed(ctx context.Context, tx *sql.Tx, c store.SealedColumn) ([]store.SealedValue, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+c.Key+`, `+c.Value+` FROM `+c.Table+` ORDER BY `+c.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Table, err)
	}
	defer rows.Close()
	var out []store.SealedValue
	for rows.Next() {
		v := store.SealedValue{Kind: c.Kind}
		if err := rows.Scan(&v.Name, &v.Value); err != nil {
			return nil, fmt.Errorf("read %s: %w", c.Table, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
