package cluster

import (
	"context"
	"log/slog"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
)

// ForStore opens the node that fits the store (store.type, store.dsn and its timeouts): replicas on a
// PostgreSQL store coordinate through its database; any other store (SQLite, one process)
// gets a Local node.
func ForStore(ctx context.Context, sc store.Config, log *slog.Logger) (Node, error) {
	if sc.Type == "postgres" {
		return OpenPostgres(ctx, PostgresOptions{DSN: sc.DSN, Timeouts: postgres.TimeoutsOf(sc), Logger: log})
	}
	return NewLocal(LocalOptions{Logger: log}), nil
}
