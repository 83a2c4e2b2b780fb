package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Store is the PostgreSQL store. It is safe for concurrent use, also by several processes
// sharing one database.
type Store struct {
	pool  *bounded // every use bounded by the statement timeout
	clock func() time.Time
	// noteHit is NoteHitCounter's statement without a look [0] and with one [1]: their text
	// depends only on the parameters' positions, so it is built once (noteHitQuery).
	noteHit [2]string
}

var (
	_ store.Store     = (*Store)(nil)
	_ sso.Store       = (*Store)(nil)
	_ sso.DeviceStore = (*Store)(nil)
)

type options struct {
	clock    func() time.Time
	maxConns int32
	timeouts Timeouts
	tracer   pgx.QueryTracer // tests: counts the statements sent (export_test.go)
}

// Option configures Open.
type Option func(*options)

// WithClock sets the clock used for expiry checks and default timestamps (tests). The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithMaxConns sets the size of the connection pool (default: pgxpool's, max(4, GOMAXPROCS), or
// pool_max_conns in the DSN).
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = int32(min(n, math.MaxInt32))
		}
	}
}

// WithTimeouts sets the timeouts (default DefaultTimeouts; zero fields take their default).
func WithTimeouts(t Timeouts) Option {
	return func(o *options) { o.timeouts = t }
}

// Open connects to the database the DSN names (a postgres:// URL or keyword=value pairs, as
// libpq reads them), checks that it answers, and applies pending schema migrations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", redact(err))
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = o.tracer
	}
	t := o.timeouts.WithDefaults()
	t.Configure(&cfg.ConnConfig.Config)
	noJIT(&cfg.ConnConfig.Config)
	cfg.PingTimeout = t.Statement // the check of a connection idle for a while, when acquired
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", redact(err))
	}
	s := &Store{pool: &bounded{pool: pool, timeout: t.Statement}, clock: o.clock,
		noteHit: [2]string{noteHitQuery(false), noteHitQuery(true)}}
	if err := s.pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg.ConnConfig), err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// noJIT turns the server's JIT compilation off for the store's connections unless the DSN
// sets jit: the store's statements are short index lookups, but a plan whose cost estimate
// passes jit_above_cost (the outbox claim's on a large table) would be compiled first, for
// hundreds of milliseconds, on every execution.
func noJIT(c *pgconn.Config) {
	if _, ok := c.RuntimeParams["jit"]; !ok {
		c.RuntimeParams["jit"] = "off"
	}
}

// where names the server and database of a connection for messages, without credentials.
func where(c *pgx.ConnConfig) string {
	return fmt.Sprintf("database %q on %s:%d", c.Database, c.Host, c.Port)
}

// redact drops the DSN from a parse error: pgconn quotes the connection string, and its
// password masking is best effort.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return err
	}
	msg := pe.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	} else {
		msg = "cannot parse it"
	}
	// The cause in parentheses may quote the input too (a URL parse error does).
	if i := strings.Index(msg, " ("); i >= 0 {
		msg = msg[:i]
	}
	return errors.New("invalid DSN: " + msg)
}

// Pool is the store's connection pool, for callers that share the database (leader leases,
// change notifications). They must not close it.
// Its uses are not bounded by the statement timeout (the caller's context is), but the server
// still applies statement_timeout: a longer job sets it (SET LOCAL statement_timeout = 0).
func (s *Store) Pool() *pgxpool.Pool { return s.pool.pool }

// RequestBudget is the budget the store calls of one request share (store.WithBudget): the
// statement timeout, so that a request waits at most once for a database that hangs.
func (s *Store) RequestBudget() time.Duration { return s.pool.timeout }

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// tx runs fn in a READ COMMITTED transaction and commits it when fn returns nil (see doc.go for
// why READ COMMITTED).
// The transaction as a whole is bounded by the statement timeout.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.pool.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

// execOne runs a statement that must change one row: errNoRows when it changed none.
func execOne(ctx context.Context, q querier, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return pgx.ErrNoRows
	}
	return nil
}

// ---- encoding ----

// ts encodes a time as unix nanoseconds (BIGINT); the zero time is 0. Times outside the int64
// range (years before 1678 or after 2262) are clamped. The encoding is SQLite's, so that the two
// backends order and compare times alike and `store copy` moves rows as they are.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if y := t.Year(); y >= 2262 {
		if t.After(maxTime) {
			return math.MaxInt64
		}
	} else if y <= 1678 && t.Before(minTime) {
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, math.MinInt64+1)
)

// tm decodes ts.
func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// encList stores a string list as a JSON array in a TEXT column; an empty list is "" (SQLite's
// encoding).
func encList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	j, err := json.Marshal(l)
	if err != nil { // cannot happen for []string
		panic(err)
	}
	return string(j)
}

func decList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// listCol is a list column read from a row and the field it decodes into.
type listCol struct {
	dst *[]string
	src string
}

func decLists(cols ...listCol) error {
	for _, c := range cols {
		l, err := decList(c.src)
		if err != nil {
			return err
		}
		*c.dst = l
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ---- errors ----

// SQLSTATE codes the store maps.
const (
	uniqueViolation = "23505"
)

func isConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == uniqueViolation
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// isUnavailable reports a failure to reach the database, not a statement's own error: no
// connection could be made (refused, reset, the server starting up or shutting down, out of
// connections), or the connection broke mid-statement or mid-transaction (the transaction is
// then rolled back by the server), or the statement ran out of time.
func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-03: admin or crash shutdown, cannot connect now;
		// 53300: too many connections; 57014: cancelled, by the server's statement_timeout
		// (the bound this client also sets) or an administrator.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" ||
			pe.Code == "53300" || pe.Code == "57014"
	}
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up (a client that went away), not the database
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// wrap adds the operation to err, mapping driver errors to the sso sentinels.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case isUnavailable(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, sso.ErrUnavailable, err)
	case isNoRows(err):
		return fmt.Errorf("postgres: %s: %w", op, sso.ErrNotFound)
	case isConflict(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, sso.ErrConflict, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}
