package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Snapshot runs fn in a read transaction: every query fn makes sees one consistent state of the
// database, while writers carry on (WAL). It is for tools that read every table (`ssobridge
// store copy`); the store's own methods are the way to read and write otherwise.
func (s *Store) Snapshot(ctx context.Context, fn func(tx *sql.Tx) error) error {
	gate := s.rgate
	if err := gate.acquire(ctx); err != nil {
		return err
	}
	defer gate.release()
	tx, err := s.r.BeginTx(ctx, nil) // read-pool connections are query_only
	if err != nil {
		return fmt.Errorf("sqlite: snapshot: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	return fn(tx)
}

// SchemaVersion returns the schema version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}
