package sqlite

import (
	"context"
	"database/sql"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Reseal re-seals every sealed value in one write transaction (see store.Resealer).
func (s *Store) Reseal(ctx context.Context, reseal func(store.SealedValue) ([]byte, error)) (int, error) {
	var n int
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error // writeTx may run fn again in a new transaction: n is the last run's
		n, err = store.ResealAll(ctx, sealedTx{tx}, reseal)
		return err
	})
	if err != nil {
		return 0, wrap("reseal", err)
	}
	return n, nil
}

// sealedTx is a write transaction as store.ResealAll reads and writes sealed columns.
type sealedTx struct{ tx *sql.Tx }

func (t sealedTx) ReadSealed(ctx context.Context, c store.SealedColumn) ([]store.SealedValue, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+c.Key+`, `+c.Value+` FROM `+c.Table+` ORDER BY `+c.Key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SealedValue
	for rows.Next() {
		v := store.SealedValue{Kind: c.Kind}
		if err := rows.Scan(&v.Name, &v.Value); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t sealedTx) WriteSealed(ctx context.Context, c store.SealedColumn, name string, value []byte) error {
	return affectedOne(t.tx.ExecContext(ctx, `UPDATE `+c.Table+` SET `+c.Value+` = ? WHERE `+c.Key+` = ?`, value, name))
}
