package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
)

// PostgresOptions configure a Postgres node.
type PostgresOptions struct {
	// DSN is the store's PostgreSQL data source (a URL or key=value pairs, as pgx reads them).
	DSN string
	// Retry is how often a replica without a lease tries to take it and a holder confirms its
	// session, and how long a failed connection waits before the next try; default 1 s. A
	// dead holder's lease is taken over within about Retry of its session ending.
	Retry time.Duration
	// Fallback is how often subscribers are called without a notification; default 5 s.
	Fallback time.Duration
	// Timeouts bound connecting and each statement (the store's: store.connect_timeout,
	// store.statement_timeout, store.tcp_user_timeout); zero fields take their defaults.
	Timeouts postgres.Timeouts
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// channel is the LISTEN/NOTIFY channel; the payload is the topic.
const channel = "ssobridge_changes"

// Postgres is a node of replicas sharing one PostgreSQL database.
type Postgres struct {
	opt    PostgresOptions
	cfg    *pgx.ConnConfig
	pool   *pgxpool.Pool // Notify and TryLock
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	subs      map[int]*pgSub
	next      int
	listening bool
}

type pgSub struct {
	topic string
	fn    func(context.Context) error
}

// OpenPostgres connects to the database (and fails when it cannot).
func OpenPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Fallback <= 0 {
		o.Fallback = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Timeouts = o.Timeouts.WithDefaults()
	cfg, err := pgx.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("cluster: store.dsn: %w", err)
	}
	o.Timeouts.Configure(&cfg.Config)
	pcfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("cluster: store.dsn: %w", err)
	}
	o.Timeouts.Configure(&pcfg.ConnConfig.Config)
	pcfg.PingTimeout = o.Timeouts.Statement
	pcfg.MaxConns = 4
	pcfg.MinConns = 0
	pcfg.ConnConfig.RuntimeParams["application_name"] = "ssobridge cluster"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	p := &Postgres{opt: o, cfg: cfg, pool: pool, subs: map[int]*pgSub{}}
	pctx, pcancel := p.bound(ctx)
	defer pcancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: connect to PostgreSQL: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// bound is ctx bounded by the statement timeout, for one statement (with the wait for a
// connection): a database that stops answering fails it as one that is down does.
func (p *Postgres) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.opt.Timeouts.Statement)
}

// lockKey is the advisory lock key of a lease name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ssobridge lease:" + name))
	return int64(h.Sum64())
}

// connect opens a dedicated connection named for what it does (pg_stat_activity shows it).
func (p *Postgres) connect(ctx context.Context, what string) (*pgx.Conn, error) {
	cfg := p.cfg.Copy()
	cfg.RuntimeParams["application_name"] = "ssobridge " + what
	return pgx.ConnectConfig(ctx, cfg)
}

// connectLease opens the dedicated connection of the named lease. Its session ends on the
// server's side when it stays idle for leaseIdle (idle_session_timeout, PostgreSQL 14 and
// later): Lead uses it every Retry (a holder's ping, a waiter's try), so only a holder that went
// silent loses it. That is what frees the lease of a replica whose host died or was cut off:
// its socket stays open on the server, which would otherwise keep the session, and the lock,
// until TCP keepalive gives up (two hours by default). An older server keeps the session as
// before (logged once per connection).
func (p *Postgres) connectLease(ctx context.Context, name string) (*pgx.Conn, error) {
	conn, err := p.connect(ctx, "lease "+name)
	if err != nil {
		return nil, err
	}
	idle := max(leaseIdleRetries*p.opt.Retry, time.Second)
	sctx, cancel := p.bound(ctx)
	defer cancel()
	if _, err := conn.Exec(sctx, `SELECT set_config('idle_session_timeout', $1, false)`,
		strconv.FormatInt(idle.Milliseconds(), 10)); err != nil {
		if conn.IsClosed() { // the connection failed (the database stopped answering), not the setting
			return nil, err
		}
		p.opt.Logger.WarnContext(ctx, "cluster: lease: idle_session_timeout not set (PostgreSQL before 14?): "+
			"a holder whose host dies keeps its lease until TCP keepalive ends its session", "lease", name, "err", err)
	}
	return conn, nil
}

// leaseIdleRetries is how many Retry intervals a lease connection may stay silent before the
// server ends its session.
const leaseIdleRetries = 10

// TryLock implements Leases: the lock is held on a pooled connection until release, which
// unlocks it (or closes the connection when it cannot).
func (p *Postgres) TryLock(ctx context.Context, name string) (func(), bool, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("cluster: lease %s: %w", name, err)
	}
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&ok); err != nil {
		c.Release()
		return nil, false, fmt.Errorf("cluster: lease %s: %w", name, err)
	}
	if !ok {
		c.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var unlocked bool
			if err := c.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(name)).Scan(&unlocked); err != nil || !unlocked {
				// Ending the session is what releases the lock for certain.
				_ = c.Hijack().Close(ctx)
				return
			}
			c.Release()
		})
	}, true, nil
}

// Lead implements Leases with a session advisory lock on a connection of its own.
func (p *Postgres) Lead(ctx context.Context, name string, fn func(context.Context)) {
	ctx, stop := mergeCancel(ctx, p.ctx)
	defer stop()
	log := p.opt.Logger.With("lease", name)
	key := lockKey(name)
	var conn *pgx.Conn
	drop := func() {
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
			conn = nil
		}
	}
	defer drop()
	var down outage
	for ctx.Err() == nil {
		if conn == nil {
			c, err := p.connectLease(ctx, name)
			if err != nil {
				if ctx.Err() == nil {
					down.fail(ctx, log, "cluster: lease: cannot reach the database; retrying every "+p.opt.Retry.String(), err)
				}
				sleep(ctx, p.opt.Retry)
				continue
			}
			conn = c
		}
		var got bool
		sctx, cancel := p.bound(ctx)
		err := conn.QueryRow(sctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				down.fail(ctx, log, "cluster: lease: cannot reach the database; retrying every "+p.opt.Retry.String(), err)
			}
			drop()
			sleep(ctx, p.opt.Retry)
			continue
		}
		down.ok(ctx, log, "cluster: lease: the database is reachable again")
		if !got {
			sleep(ctx, p.opt.Retry)
			continue
		}
		log.InfoContext(ctx, "cluster: lease taken")
		if lost := p.hold(ctx, conn, fn); lost {
			log.WarnContext(ctx, "cluster: lease lost: the database session could not be confirmed")
			drop() // the session, and with it the lock, may still live: end it
		} else {
			uctx, cancel := context.WithTimeout(context.Background(), p.opt.Retry)
			var unlocked bool
			if err := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&unlocked); err != nil || !unlocked {
				drop()
			}
			cancel()
		}
		sleep(ctx, p.opt.Retry)
	}
}

// hold runs fn while the lease's session is confirmed every Retry; it reports whether the
// lease was lost (fn's context was cancelled for it).
func (p *Postgres) hold(ctx context.Context, conn *pgx.Conn, fn func(context.Context)) (lost bool) {
	leaseCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); fn(leaseCtx) }()
	t := time.NewTicker(p.opt.Retry)
	defer t.Stop()
	for {
		select {
		case <-done:
			return lost
		case <-ctx.Done():
			cancel()
			<-done
			return false
		case <-t.C:
			if lost {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, 2*p.opt.Retry)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				lost = true
				cancel()
			}
		}
	}
}

// Notify implements Notifier with pg_notify (it reaches every replica listening once the
// statement commits). This replica's own subscribers are also called before it returns, as
// Local's are: its notification comes back on the listening connection only some time later,
// and the caller (an admin request that registered a client, say) must find its own change
// when it next looks. They are called even when pg_notify failed: the change is committed.
//
// Neither step stops when ctx is cancelled (review s24 X-5): the change is committed whether
// or not the caller still waits, and a subscriber called with a cancelled context fails (the
// client registry kept that failure, and answered lookups of new ids with it, until its next
// reload). Each runs on ctx without its cancellation, bounded by the node's timeouts: the
// statement by the statement timeout, each subscriber by ownDispatchBound.
func (p *Postgres) Notify(ctx context.Context, topic string) error {
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := p.bound(ctx)
	_, err := p.pool.Exec(sctx, `SELECT pg_notify($1, $2)`, channel, topic)
	cancel()
	if p.ctx.Err() == nil { // not closed
		p.dispatch(ctx, topic, p.ownDispatchBound())
	}
	if err != nil {
		return fmt.Errorf("cluster: notify %s: %w", topic, err)
	}
	return nil
}

// Subscribe implements Notifier; the first subscription starts the listener.
func (p *Postgres) Subscribe(topic string, fn func(context.Context) error) func() {
	p.mu.Lock()
	id := p.next
	p.next++
	p.subs[id] = &pgSub{topic: topic, fn: fn}
	start := !p.listening && p.ctx.Err() == nil
	if start {
		p.listening = true
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if start {
		go func() { defer p.wg.Done(); p.listen() }()
	}
	return func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// ownDispatchBound bounds each of this replica's subscribers called by its own Notify: a
// connection and a statement or transaction of the store (a reload), the store's own bounds.
func (p *Postgres) ownDispatchBound() time.Duration {
	return p.opt.Timeouts.Connect + p.opt.Timeouts.Statement
}

// dispatch calls the subscribers of topic ("" for all); with bound > 0 each on a context of
// its own that ends after bound.
func (p *Postgres) dispatch(ctx context.Context, topic string, bound time.Duration) {
	p.mu.Lock()
	var subs []*pgSub
	for _, s := range p.subs {
		if topic == "" || s.topic == topic {
			subs = append(subs, s)
		}
	}
	p.mu.Unlock()
	// One line for the call, naming every topic that failed: after a reconnect every subscriber
	// is called, and one cause (the database gone again) would otherwise be said once per topic.
	var failed []string
	var first error
	for _, s := range subs {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if bound > 0 {
			fctx, cancel = context.WithTimeout(ctx, bound)
		}
		err := s.fn(fctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			failed = append(failed, s.topic)
			if first == nil {
				first = err
			}
		}
	}
	if len(failed) > 0 {
		p.opt.Logger.ErrorContext(ctx, "cluster: refresh after a change failed", "topics", failed, "err", first)
	}
}

// listen keeps a LISTEN connection until Close, reconnecting after failures. After each
// connection, and every Fallback without a notification, every subscriber is called.
func (p *Postgres) listen() {
	ctx := p.ctx
	var down outage
	for ctx.Err() == nil {
		err := p.listenOnce(ctx, &down)
		if ctx.Err() != nil {
			return
		}
		down.fail(ctx, p.opt.Logger, "cluster: change notifications interrupted; reconnecting every "+p.opt.Retry.String(), err)
		sleep(ctx, p.opt.Retry)
	}
}

// outage logs the first failure of a retried connection and its recovery, not every retry.
type outage struct{ failing bool }

func (o *outage) fail(ctx context.Context, log *slog.Logger, msg string, err error) {
	if !o.failing {
		o.failing = true
		log.WarnContext(ctx, msg, "err", err)
	}
}

func (o *outage) ok(ctx context.Context, log *slog.Logger, msg string) {
	if o.failing {
		o.failing = false
		log.InfoContext(ctx, msg)
	}
}

func (p *Postgres) listenOnce(ctx context.Context, down *outage) error {
	conn, err := p.connect(ctx, "listen")
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(cctx)
		cancel()
	}()
	sctx, cancel := p.bound(ctx)
	_, err = conn.Exec(sctx, `LISTEN `+channel)
	cancel()
	if err != nil {
		return err
	}
	down.ok(ctx, p.opt.Logger, "cluster: change notifications resumed")
	p.dispatch(ctx, "", 0) // whatever changed while nobody listened
	last := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, p.opt.Fallback-time.Since(last))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			p.dispatch(ctx, n.Payload, 0)
		case errors.Is(err, context.DeadlineExceeded) || pgconnTimeout(err):
			pctx, pcancel := context.WithTimeout(ctx, 2*p.opt.Retry)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return err
			}
			p.dispatch(ctx, "", 0)
			last = time.Now()
		default:
			return err
		}
		if time.Since(last) >= p.opt.Fallback {
			p.dispatch(ctx, "", 0)
			last = time.Now()
		}
	}
}

// pgconnTimeout reports a timeout error (WaitForNotification's deadline).
func pgconnTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Close implements Node: leases are lost, the listener stops.
func (p *Postgres) Close() error {
	p.cancel()
	p.wg.Wait()
	p.pool.Close()
	return nil
}

// mergeCancel is a context done when either a or b is.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}
