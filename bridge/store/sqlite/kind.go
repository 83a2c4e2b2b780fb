package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// FileName is the database file in the data dir when store.dsn is not set.
const FileName = "ssobridge.db"

// Kind is the sqlite store backend for the registry (store/backends).
func Kind() store.Kind {
	return store.Kind{Check: check, Open: openConfig}
}

func check(c store.Config) []error {
	var errs []error
	if strings.ContainsAny(c.DSN, "?#") {
		errs = append(errs, errors.New("store.dsn: a file path for sqlite, without ? or #"))
	}
	if c.DSN == Memory {
		errs = append(errs, errors.New("store.dsn: :memory: would forget every session and token on restart; give a file path"))
	}
	if c.DSN == "" && c.DataDir == "" {
		errs = append(errs, errors.New("store.dsn: required when data_dir is empty"))
	}
	return errs
}

// openConfig opens the database at store.dsn, or ssobridge.db in the data dir (which the
// bridge has made private before opening its store).
func openConfig(ctx context.Context, c store.Config) (store.Backend, error) {
	return Open(ctx, Path(c))
}

// Path is the database file of an sqlite store: store.dsn, or ssobridge.db in the data dir.
func Path(c store.Config) string {
	if c.DSN != "" {
		return c.DSN
	}
	return filepath.Join(c.DataDir, FileName)
}
