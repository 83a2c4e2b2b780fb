package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Reseal re-seals every sealed value in one transaction (see store.Resealer). The sealed
// tables are locked against other writers (readers go on) until it commits, so that no value
// is written between the read and the update.
func (s *Store) Reseal(ctx context.Context, reseal func(store.SealedValue) ([]byte, error)) (int, error) {
	var n int
	tables := make([]string, 0, len(store.SealedColumns))
	for _, c := range store.SealedColumns {
		tables = append(tables, c.Table)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(tables, ", ")+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		for _, c := range store.SealedColumns {
			rows, err := tx.Query(ctx, `SELECT `+c.Key+`, `+c.Value+` FROM `+c.Table+` ORDER BY `+c.Key+` COLLATE "C"`)
			if err != nil {
				return fmt.Errorf("read %s: %w", c.Table, err)
			}
			vals, err := collect(rows, func(row pgx.Row) (store.SealedValue, error) {
				v := store.SealedValue{Kind: c.Kind}
				err := row.Scan(&v.Name, &v.Value)
				return v, err
			})
			if err != nil {
				return fmt.Errorf("read %s: %w", c.Table, err)
			}
			for _, v := range vals {
				sealed, err := reseal(v)
				if err != nil {
					return fmt.Errorf("%s %q: %w", v.Kind, v.Name, err)
				}
				if err := execOne(ctx, tx, `UPDATE `+c.Table+` SET `+c.Value+` = $1 WHERE `+c.Key+` = $2`, sealed, v.Name); err != nil {
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
