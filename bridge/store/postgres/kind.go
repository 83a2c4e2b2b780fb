package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Kind is the postgres store backend for the registry (store/backends).
func Kind() store.Kind {
	return store.Kind{Check: check, Open: openConfig}
}

// check validates store.dsn without connecting: it must be given and parse as a PostgreSQL
// connection string. The message never repeats the DSN (it may hold a password).
func check(c store.Config) []error {
	if strings.TrimSpace(c.DSN) == "" {
		return []error{errors.New("store.dsn: required for postgres (a postgres:// URL or host=... dbname=... pairs; ${ENV_VAR} references are expanded)")}
	}
	cfg, err := pgxpool.ParseConfig(c.DSN)
	if err != nil {
		return []error{fmt.Errorf("store.dsn: %w", redact(err))}
	}
	errs := checkTimeouts(c)
	if cfg.ConnConfig.Database == "" {
		errs = append(errs, errors.New("store.dsn: names no database (dbname)"))
	}
	return errs
}

func openConfig(ctx context.Context, c store.Config) (store.Backend, error) {
	return Open(ctx, c.DSN, WithTimeouts(TimeoutsOf(c)))
}
