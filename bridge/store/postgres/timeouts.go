package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Timeouts bound every wait on the database, so that a server that stops answering (or a
// network that drops packets silently) fails requests as a server that is down does, instead
// of leaving them to the operating system's TCP timeout (hours). A zero field takes its
// default (DefaultTimeouts).
type Timeouts struct {
	// Connect bounds opening a connection: the TCP handshake, TLS, authentication and the
	// server's ready answer. A connect_timeout in the DSN takes precedence.
	Connect time.Duration
	// Statement bounds each use of the database: one statement with the wait for a pooled
	// connection, or one whole transaction. The server is told the same bound
	// (statement_timeout and idle_in_transaction_session_timeout), so it abandons the work of a
	// client that gave up.
	Statement time.Duration
	// TCPUser is how long the operating system keeps a connection whose data or keepalive
	// probes go unacknowledged (TCP_USER_TIMEOUT on Linux; TCP keepalive elsewhere): it ends
	// the idle connections (change notifications, leases, the pool) to a peer that vanished.
	TCPUser time.Duration
}

// DefaultTimeouts are the timeouts of an Open without WithTimeouts, and of zero fields.
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, Statement: 10 * time.Second, TCPUser: 30 * time.Second}

// MinTimeout is the smallest timeout the configuration accepts.
const MinTimeout = 100 * time.Millisecond

// TimeoutsOf reads the timeouts of the store section (zero fields: the defaults).
func TimeoutsOf(c store.Config) Timeouts {
	return Timeouts{Connect: c.ConnectTimeout, Statement: c.StatementTimeout, TCPUser: c.TCPUserTimeout}.WithDefaults()
}

// WithDefaults is t with each zero field set to its default.
func (t Timeouts) WithDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.Statement <= 0 {
		t.Statement = DefaultTimeouts.Statement
	}
	if t.TCPUser <= 0 {
		t.TCPUser = DefaultTimeouts.TCPUser
	}
	return t
}

// checkTimeouts validates the store section's timeouts, naming each field.
func checkTimeouts(c store.Config) []error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"store.connect_timeout", c.ConnectTimeout},
		{"store.statement_timeout", c.StatementTimeout},
		{"store.tcp_user_timeout", c.TCPUserTimeout},
	} {
		switch {
		case f.d < 0:
			errs = append(errs, fmt.Errorf("%s: %s is negative", f.name, f.d))
		case f.d > 0 && f.d < MinTimeout:
			errs = append(errs, fmt.Errorf("%s: %s is below %s (a duration such as 5s)", f.name, f.d, MinTimeout))
		case f.d > time.Hour:
			errs = append(errs, fmt.Errorf("%s: %s is above 1h", f.name, f.d))
		}
	}
	return errs
}

// Configure applies the timeouts to a connection configuration (the store's pool, and the
// cluster's own connections): the connect timeout (unless the DSN set one), TCP keepalive and
// TCP_USER_TIMEOUT on every TCP connection, and the server-side statement_timeout and
// idle_in_transaction_session_timeout (unless the DSN set them).
func (t Timeouts) Configure(c *pgconn.Config) {
	t = t.WithDefaults()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = t.Connect
	}
	c.DialFunc = t.dialer().DialContext
	for _, p := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if _, ok := c.RuntimeParams[p]; !ok {
			c.RuntimeParams[p] = strconv.FormatInt(t.Statement.Milliseconds(), 10)
		}
	}
}

// dialer opens TCP connections with keepalive probes after TCPUser/2 idle, and TCP_USER_TIMEOUT
// TCPUser: a peer that stops acknowledging is given up within about TCPUser, whether the
// connection was sending or idle. (Unix sockets have neither; their peer is on this host.)
func (t Timeouts) dialer() *net.Dialer {
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: t.TCPUser / 2, Interval: max(t.TCPUser/6, time.Second), Count: 3},
		Control: func(network, _ string, c syscall.RawConn) error {
			switch network {
			case "tcp", "tcp4", "tcp6":
				return setUserTimeout(c, t.TCPUser)
			}
			return nil
		},
	}
}

// bounded is the pool with every use bounded by the statement timeout: a statement with the
// wait for a connection, a query until its rows are closed, a transaction until it ends,
// whatever deadline the caller's context has (or has not).
type bounded struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// bound is ctx bounded for one use of the database: by the statement timeout, and by what is
// left of the request's budget when ctx carries one (store.WithBudget), which the use then
// spends: the store calls of one request wait at most once the timeout for a database that
// hangs. The cancel func ends the bound.
func (b *bounded) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	bud := store.BudgetOf(ctx)
	if bud == nil {
		return context.WithTimeout(ctx, b.timeout)
	}
	start := time.Now()
	// Nothing left: the use fails at once, as a timeout (the database unavailable).
	ctx, cancel := context.WithTimeout(ctx, max(min(b.timeout, bud.Left()), 0))
	return ctx, func() {
		cancel()
		bud.Spend(time.Since(start))
	}
}

func (b *bounded) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	return b.pool.Exec(ctx, sql, args...)
}

func (b *bounded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := b.bound(ctx)
	rows, err := b.pool.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return rows, err
	}
	return &boundRows{Rows: rows, cancel: cancel}, nil
}

func (b *bounded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := b.bound(ctx)
	return boundRow{row: b.pool.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (b *bounded) Ping(ctx context.Context) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	return b.pool.Ping(ctx)
}

// tx runs fn in a transaction bounded as a whole: each statement in it ends by the
// transaction's deadline, whatever context fn passes.
func (b *bounded) tx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	return pgx.BeginTxFunc(ctx, b.pool, opts, func(tx pgx.Tx) error {
		return fn(boundTx{Tx: tx, deadline: deadline})
	})
}

type boundRow struct {
	row    pgx.Row
	cancel context.CancelFunc
}

func (r boundRow) Scan(dst ...any) error {
	defer r.cancel()
	return r.row.Scan(dst...)
}

// boundRows releases its deadline when the rows are closed (or read to the end).
type boundRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r *boundRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.cancel()
	return false
}

func (r *boundRows) Close() {
	r.Rows.Close()
	r.cancel()
}

// boundTx is a transaction whose statements end by its deadline.
type boundTx struct {
	pgx.Tx
	deadline time.Time
}

func (t boundTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	return t.Tx.Exec(ctx, sql, args...)
}

func (t boundTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	rows, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return rows, err
	}
	return &boundRows{Rows: rows, cancel: cancel}, nil
}

func (t boundTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	return boundRow{row: t.Tx.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (t boundTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	return t.Tx.CopyFrom(ctx, table, cols, src)
}

func (t boundTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	ctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	return t.Tx.Prepare(ctx, name, sql)
}
