package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	// Long enough that SELECT 1 answers within it on a loaded machine (300 ms did not, at a
	// load average of 30 on two cores); the hanging call waits all of it.
	const budget = 2 * time.Second
	s.pool.timeout = budget
	if s.RequestBudget() != budget {
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

// frozenProxy carries TCP connections on 127.0.0.1 to the PostgreSQL server at unix socket
// sock until freeze is called; from then on it reads nothing more from the clients (and
// forwards nothing), while their connections stay open: the client's kernel sees a peer that
// acknowledges nothing more (its receive window full), as behind a network that stopped
// delivering.
type frozenProxy struct {
	ln     net.Listener
	frozen chan struct{}
	close  func() // ends the listener and every connection (once)
}

func newFrozenProxy(t *testing.T, sock string) *frozenProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &frozenProxy{ln: ln, frozen: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	var once sync.Once
	p.close = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
	}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// A small fixed receive buffer (no autotuning, which grows it and, when memory runs
			// short, collapses the queue and opens the window a little again): once frozen,
			// the window stays shut.
			_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
			s, err := net.Dial("unix", sock)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go io.Copy(c, s) //nolint:errcheck // server to client
			go func() {      // client to server, until frozen
				buf := make([]byte, 32<<10)
				for {
					select {
					case <-p.frozen:
						return // the connection stays open, unread
					default:
					}
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *frozenProxy) freeze() { close(p.frozen) }

// TCP_USER_TIMEOUT, end to end on 127.0.0.1: a statement the peer stops taking in (its
// receive window stays full: nothing is acknowledged any more) ends with the kernel's
// ETIMEDOUT after store.tcp_user_timeout, although the statement timeout is far longer;
// without the option the kernel would keep probing the zero window for many minutes, and the
// test fails on its safety net (and first on reading the option back from the connection).
// (Keepalive alone cannot be shown on 127.0.0.1: the proxy's kernel answers the probes of an
// idle connection as long as the process lives; that takes dropping packets, which needs a
// firewall rule or a network namespace the tests do not have.)
//
// It used to fail now and then on a busy machine, on its 20 s safety net or with "broken
// pipe"; neither was the deadline being short for the load (the stall ends 1.4 to 5 s after
// the write stops, measured at load 20 on 2 cores):
//   - the statement was new to the connection, so pgx first sent its Parse and Describe and
//     waited for the answer; when the proxy's goroutine was between two reads at the freeze
//     (not blocked in Read), that small message was taken in and acknowledged by the proxy's
//     kernel and never forwarded, and pgx waited on a read of an idle connection, which
//     TCP_USER_TIMEOUT never ends: the statement is now prepared before the freeze;
//   - when the kernel drops the connection, its ETIMEDOUT goes to the first reader or writer
//     of the socket: pgx's background reader (running while a write blocks) may take it,
//     counts it a read deadline (syscall.Errno.Timeout is true for ETIMEDOUT) and drops it,
//     and the blocked write then gets EPIPE from the socket the kernel shut: EPIPE is the
//     same drop seen second. Nothing else can end the write (the proxy keeps both ends
//     open, the statement timeout is an hour), and the option is read back first.
func TestTCPUserTimeoutEndsAStalledStatement(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	cc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cc.Host, "/") {
		t.Skipf("the test server is not on a unix socket (%s): the proxy needs one", cc.Host)
	}
	p := newFrozenProxy(t, filepath.Join(cc.Host, fmt.Sprintf(".s.PGSQL.%d", cc.Port)))
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	tcp := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, cc.User, cc.Database)
	s, err := Open(t.Context(), tcp, WithTimeouts(Timeouts{Statement: time.Hour, TCPUser: time.Second}), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Cleanup(p.close) // first: a statement still stalled (the test failed) then ends, and Close returns
	// Prepared before the freeze (see above): after it pgx sends only Bind, Execute, Sync.
	const stmt = `SELECT length($1::text)`
	if _, err := s.pool.Exec(context.Background(), stmt, "prepared"); err != nil {
		t.Fatal(err)
	}
	c, err := s.pool.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Conn().PgConn().Conn().(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	got, err := userTimeout(raw)
	c.Release()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no TCP_USER_TIMEOUT on this system")
	}
	if err != nil || got != time.Second {
		t.Fatalf("TCP_USER_TIMEOUT of the connection: %v, %v; want 1s", got, err)
	}
	p.freeze()
	big := strings.Repeat("x", 64<<20) // far more than both kernels' buffers hold
	start := time.Now()
	err = within(t, "a statement the peer stopped reading", func() error {
		_, err := s.pool.Exec(context.Background(), stmt, big)
		return err
	})
	t.Logf("the stalled statement ended after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, syscall.ETIMEDOUT) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("stalled statement: %v, want the kernel's ETIMEDOUT (TCP_USER_TIMEOUT), or EPIPE after it", err)
	}
	if !errors.Is(wrap("op", err), sso.ErrUnavailable) {
		t.Fatalf("%v: not reported as the database being unavailable", err)
	}
}
