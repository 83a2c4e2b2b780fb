package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/sso"
)

// safetyNet is how long these tests wait for an answer before calling it a hang: far above the
// timeouts they set (it is not a measure of speed).
const safetyNet = 20 * time.Second

// within runs f and fails the test if it has not returned within the safety net.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(safetyNet):
		t.Fatalf("%s: no answer within %s (it waits for ever)", what, safetyNet)
		panic("unreachable")
	}
}

// A server that accepts the connection and never answers (a frozen PostgreSQL, or a network
// that drops what it sends) fails Open after the connect timeout instead of leaving it waiting
// for ever.
func TestOpenServerThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // kept open, never read or answered
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	dsn := "host=" + host + " port=" + port + " dbname=bridge user=bridge sslmode=disable"
	err = within(t, "Open", func() error {
		s, err := Open(context.Background(), dsn, WithTimeouts(Timeouts{Connect: 200 * time.Millisecond, Statement: time.Second}))
		if err == nil {
			s.Close()
		}
		return err
	})
	if err == nil || !isUnavailable(err) {
		t.Fatalf("Open on a server that never answers: %v, want an unreachable-database error", err)
	}
}

// Every use of the store is bounded by the statement timeout, whatever the caller's context:
// a statement, a query's rows, a transaction as a whole (also when each of its statements is
// short). The server is told the bound too, unless the DSN says otherwise.
func TestStatementsBounded(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	// The server's own statement_timeout off: what ends the statements here is the client.
	// Opened with the default bound (Open's first connection is not what is tested, and on a
	// loaded machine connecting alone can take longer than the short bound), then bounded.
	s, err := Open(t.Context(), pgtest.WithParam(dsn, "statement_timeout", "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.pool.timeout = 300 * time.Millisecond
	bg := context.Background() // no deadline: only the store's bound ends the waits below
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"Exec", func() error {
			_, err := s.pool.Exec(bg, `SELECT pg_sleep(30)`)
			return err
		}},
		{"QueryRow", func() error {
			var v string
			return s.pool.QueryRow(bg, `SELECT pg_sleep(30)::text`).Scan(&v)
		}},
		{"Query", func() error {
			rows, err := s.pool.Query(bg, `SELECT pg_sleep(30)`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		}},
		{"statement in a transaction", func() error {
			return s.tx(bg, func(tx pgx.Tx) error {
				_, err := tx.Exec(bg, `SELECT pg_sleep(30)`)
				return err
			})
		}},
		{"transaction of short statements", func() error {
			return s.tx(bg, func(tx pgx.Tx) error {
				for range 20 {
					if _, err := tx.Exec(bg, `SELECT pg_sleep(0.05)`); err != nil {
						return err
					}
				}
				return nil
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := within(t, tc.name, tc.run)
			if err == nil {
				t.Fatal("ran past the statement timeout")
			}
			if w := wrap("op", err); !errors.Is(w, sso.ErrUnavailable) {
				t.Fatalf("%v: not reported as the database being unavailable", w)
			}
			// The store works on. The timed-out connection was closed, so this opens a new
			// one: asked through the pool without the 300 ms bound, which on a loaded machine
			// connecting alone can exceed (that bound is what the statements above test).
			ctx, cancel := context.WithTimeout(bg, safetyNet)
			defer cancel()
			var one int
			if err := s.pool.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("after the timeout: %v", err)
			}
		})
	}

	// With the DSN silent, the server applies the same bound.
	s2, err := Open(t.Context(), dsn, WithTimeouts(Timeouts{Statement: 1500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	for _, p := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		var v string
		if err := s2.pool.pool.QueryRow(bg, `SELECT current_setting($1)`, p).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "1500ms" {
			t.Errorf("%s on the server: %q, want 1500ms", p, v)
		}
	}
}

// Configure fills in what the DSN left out and keeps what it says.
func TestConfigureKeepsTheDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn             string
		connect         time.Duration
		statementServer string
	}{
		{"host=db dbname=bridge", 3 * time.Second, "4000"},
		{"host=db dbname=bridge connect_timeout=7 statement_timeout=0", 7 * time.Second, "0"},
	} {
		c, err := pgconn.ParseConfig(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		Timeouts{Connect: 3 * time.Second, Statement: 4 * time.Second}.Configure(c)
		if c.ConnectTimeout != tc.connect || c.RuntimeParams["statement_timeout"] != tc.statementServer ||
			c.RuntimeParams["idle_in_transaction_session_timeout"] != "4000" {
			t.Errorf("%s: connect %s, statement_timeout %q, idle_in_transaction_session_timeout %q", tc.dsn,
				c.ConnectTimeout, c.RuntimeParams["statement_timeout"], c.RuntimeParams["idle_in_transaction_session_timeout"])
		}
		if c.DialFunc == nil {
			t.Errorf("%s: no dialer", tc.dsn)
		}
	}
}

// The store calls of one request share one bound (store.WithBudget, the statement timeout):
// after a call that waited the whole budget for a database that hangs, the request's next call
// fails at once as the database being unavailable, instead of waiting a second timeout; a new
// request has its own budget.
func TestRequestBudgetShared(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s, err := Open(t.Context(), pgtest.WithParam(dsn, "statement_timeout", "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.pool.timeout = 300 * time.Millisecond
	if s.RequestBudget() != 300*time.Millisecond {
		t.Fatalf("RequestBudget %s, want the statement timeout", s.RequestBudget())
	}
	one := func(ctx context.Context) error {
		var v int
		return s.pool.QueryRow(ctx, `SELECT 1`).Scan(&v)
	}
	req := store.WithBudget(context.Background(), s.RequestBudget())
	if err := one(req); err != nil {
		t.Fatalf("first call of the request: %v", err)
	}
	err = within(t, "a hanging statement", func() error {
		_, err := s.pool.Exec(req, `SELECT pg_sleep(30)`)
		return err
	})
	if !errors.Is(wrap("op", err), sso.ErrUnavailable) {
		t.Fatalf("hanging statement: %v, want unavailable", err)
	}
	if left := store.BudgetOf(req).Left(); left > 0 {
		t.Fatalf("budget left after a call that waited it all: %s", left)
	}
	err = one(req)
	if err == nil || !errors.Is(wrap("op", err), sso.ErrUnavailable) {
		t.Fatalf("the request's next call after its budget ran out: %v, want unavailable at once", err)
	}
	// A request without a budget, and a new request, are bounded per call as before.
	if err := one(context.Background()); err != nil {
		t.Fatalf("a call without a budget: %v", err)
	}
	if err := one(store.WithBudget(context.Background(), s.RequestBudget())); err != nil {
		t.Fatalf("a new request: %v", err)
	}
}
