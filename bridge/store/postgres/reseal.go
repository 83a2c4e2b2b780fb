package postgres

import (
	"context"
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
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(tables, ", ")+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var err error
		n, err = store.ResealAll(ctx, sealedTx{tx}, reseal)
		return err
	})
	if err != nil {
		return 0, wrap("reseal", err)
	}
	return n, nil
}

// sealedTx is a transaction as store.ResealAll reads and writes sealed columns.
type sealedTx struct{ tx pgx.Tx }

func (t sealedTx) ReadSealed(ctx context.Context, c store.SealedColumn) ([]store.SealedValue, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+c.Key+`, `+c.Value+` FROM `+c.Table+` ORDER BY `+c.Key+` COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row pgx.Row) (store.SealedValue, error) {
		v := store.SealedValue{Kind: c.Kind}
		err := row.Scan(&v.Name, &v.Value)
		return v, err
	})
}

func (t sealedTx) WriteSealed(ctx context.Context, c store.SealedColumn, name string, value []byte) error {
	return execOne(ctx, t.tx, `UPDATE `+c.Table+` SET `+c.Value+` = $1 WHERE `+c.Key+` = $2`, value, name)
}
