package cluster

import (
	"context"
	"log/slog"
)

// ForStore opens the node that fits the store (store.type and store.dsn): replicas on a
// PostgreSQL store coordinate through its database; any other store (SQLite, one process)
// gets a Local node.
func ForStore(ctx context.Context, storeType, dsn string, log *slog.Logger) (Node, error) {
	if storeType == "postgres" {
		return OpenPostgres(ctx, PostgresOptions{DSN: dsn, Logger: log})
	}
	return NewLocal(LocalOptions{Logger: log}), nil
}
