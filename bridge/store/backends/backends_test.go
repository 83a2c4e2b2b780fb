package backends_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/backends"
)

func TestCheckNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    store.Config
		want string // "" for no problem
	}{
		{"default", store.Config{DataDir: "/var/lib/ssobridge"}, ""},
		{"sqlite by name", store.Config{Type: "sqlite", DSN: "/srv/bridge.db"}, ""},
		{"unknown type", store.Config{Type: "oracle", DataDir: "d"}, `store.type: "oracle" is not one of postgres, sqlite`},
		{"sqlite in memory", store.Config{Type: "sqlite", DSN: ":memory:"}, "store.dsn:"},
		{"sqlite with options", store.Config{DSN: "x.db?mode=ro"}, "store.dsn:"},
		{"sqlite nowhere", store.Config{}, "store.dsn:"},
		{"postgres URL", store.Config{Type: "postgres", DSN: "postgres://bridge:pw@db.example.org:5432/bridge?sslmode=verify-full"}, ""},
		{"postgres pairs", store.Config{Type: "postgres", DSN: "host=/run/postgresql dbname=bridge user=bridge"}, ""},
		{"postgres without dsn", store.Config{Type: "postgres", DataDir: "d"}, "store.dsn: required for postgres"},
		{"postgres bad dsn", store.Config{Type: "postgres", DSN: "postgres://bridge:s3cret@db:notaport/bridge"}, "store.dsn: invalid DSN"},
		{"postgres bad pairs", store.Config{Type: "postgres", DSN: "host=db dbname"}, "store.dsn: invalid DSN"},
		{"postgres timeouts", store.Config{Type: "postgres", DSN: "host=db dbname=bridge", ConnectTimeout: 2 * time.Second,
			StatementTimeout: 5 * time.Second, TCPUserTimeout: 20 * time.Second}, ""},
		{"postgres negative timeout", store.Config{Type: "postgres", DSN: "host=db dbname=bridge", StatementTimeout: -time.Second}, "store.statement_timeout: "},
		{"postgres tiny timeout", store.Config{Type: "postgres", DSN: "host=db dbname=bridge", ConnectTimeout: 5 * time.Millisecond}, "store.connect_timeout: "},
		{"postgres huge timeout", store.Config{Type: "postgres", DSN: "host=db dbname=bridge", TCPUserTimeout: 2 * time.Hour}, "store.tcp_user_timeout: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := backends.Check(tc.c)
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("want no problem, got %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, errs)
			}
			if strings.Contains(errs[0].Error(), "s3cret") {
				t.Fatalf("the message repeats the password: %v", errs[0])
			}
		})
	}
}

func TestOpenDefaultIsSQLiteInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := backends.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ssobridge.db")); err != nil {
		t.Fatalf("no database in the data dir: %v", err)
	}
	if _, err := backends.Open(context.Background(), store.Config{Type: "nope", DataDir: dir}); err == nil || !strings.Contains(err.Error(), "store.type") {
		t.Fatalf("unknown type opened: %v", err)
	}
}
