// Package pgtest gives tests a PostgreSQL database of their own. The server is found through
// SSOBRIDGE_TEST_POSTGRES_DSN, a superuser DSN (.ci/install.d/40-postgres.sh starts one and sets
// it); without it tests skip, unless CI=true, where a missing PostgreSQL fails them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the superuser DSN.
const EnvDSN = "SSOBRIDGE_TEST_POSTGRES_DSN"

// AdminDSN returns the superuser DSN, or skips the test (fails it when CI=true).
// opTimeout bounds creating and dropping a scratch database or schema. DROP DATABASE waits for a
// checkpoint of the whole cluster, which on a machine loaded by parallel test binaries has taken
// more than 30 s; a timeout here fails a test that passed.
const opTimeout = 2 * time.Minute

func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/install.d/40-postgres.sh starts a server)", EnvDSN)
		}
		t.Skipf("%s is not set (a superuser DSN; .ci/install.d/40-postgres.sh starts a server)", EnvDSN)
	}
	return dsn
}

// NewDatabase creates an empty database with a random name and returns a DSN for it; the
// database is dropped when the test ends (its connections terminated first).
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminDSN(t)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "ssobridge_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect with %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return WithDatabase(admin, name)
}

// NewSchema creates an empty schema with a random name in the database dsn names and returns a
// DSN whose connections use it (search_path): a fresh store in a fraction of the time a database
// takes, for suites that want one per subtest. The schema goes with its database.
func NewSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "s_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	return WithParam(dsn, "search_path", name)
}

// WithParam returns dsn with a connection parameter added (a run-time setting such as
// search_path, or a libpq keyword).
func WithParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "=" + value
}

// WithDatabase returns dsn with its database replaced by name.
func WithDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	// keyword=value pairs: a later keyword overrides an earlier one.
	return WithParam(dsn, "dbname", name)
}
