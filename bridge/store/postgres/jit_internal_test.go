package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
)

// The store's connections run with JIT off (a plan whose estimate passes jit_above_cost
// compiles for hundreds of milliseconds at each execution), unless the DSN says otherwise.
func TestConnectionsWithoutJIT(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"DSN silent", dsn, "off"},
		{"DSN sets jit", pgtest.WithParam(dsn, "jit", "on"), "on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			var v string
			if err := s.pool.QueryRow(t.Context(), `SHOW jit`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != tc.want {
				t.Errorf("SHOW jit: %q, want %q", v, tc.want)
			}
		})
	}
}

// noJIT keeps the DSN's jit.
func TestNoJITKeepsTheDSN(t *testing.T) {
	for dsn, want := range map[string]string{"host=db": "off", "host=db jit=on": "on"} {
		c, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		noJIT(c)
		if c.RuntimeParams["jit"] != want {
			t.Errorf("%s: jit %q, want %q", dsn, c.RuntimeParams["jit"], want)
		}
	}
}
