package store

import (
	"context"
	"io"
)

// Config is the `store:` section of the configuration: which backend holds the bridge's own
// data, and where.
type Config struct {
	// Type names the backend: sqlite (the default, embedded) or postgres (several replicas on
	// one PostgreSQL database); package store/backends lists them.
	Type string `yaml:"type"`
	// DSN is the backend's data source: for sqlite a file path (default <data_dir>/ssobridge.db);
	// for postgres a libpq connection string (postgres://user:password@host/db?sslmode=... or
	// host=... dbname=... pairs), required; write it as ${ENV_VAR} to keep the password out of
	// the file.
	DSN string `yaml:"dsn"`
	// DataDir is the bridge's data directory (from data_dir, not read from the section).
	DataDir string `yaml:"-"`
}

// Backend is an opened store: the Store contract, closed when the bridge stops.
type Backend interface {
	Store
	io.Closer
}

// Kind is one store implementation: how its section is checked and how it is opened.
type Kind struct {
	// Check returns every problem in the section, each naming its field (store.<field>).
	Check func(c Config) []error
	// Open opens (creating and migrating as needed) a checked section's store.
	Open func(ctx context.Context, c Config) (Backend, error)
}
