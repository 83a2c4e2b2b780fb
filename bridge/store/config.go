package store

import (
	"context"
	"io"
	"time"
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
	// ConnectTimeout bounds opening a database connection (postgres; SQLite ignores it):
	// default 5s (0: the default). A connect_timeout in the DSN takes precedence.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// StatementTimeout bounds each use of the database (postgres; SQLite ignores it): one
	// statement with the wait for a connection, or one transaction. A database that stops
	// answering fails the request after this long, as one that is down does (503, "try again").
	// The server is told the same bound (statement_timeout, idle_in_transaction_session_timeout).
	// Default 10s (0: the default).
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// TCPUserTimeout is how long a connection may go unacknowledged by the database server
	// (data or keepalive probes) before it is given up (postgres over TCP; TCP_USER_TIMEOUT on
	// Linux, keepalive elsewhere): it ends idle connections (change notifications, leases) to a
	// server that vanished. Default 30s (0: the default).
	TCPUserTimeout time.Duration `yaml:"tcp_user_timeout"`
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
