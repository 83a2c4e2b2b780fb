package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// fifoGate admits at most n holders and serves waiters in arrival order. database/sql hands a
// released connection to a random waiter, so under load a request can wait for the write
// connection (or a read connection) through many rounds while later ones go first: the tail of
// a loaded token endpoint. Taking a gate sized to the pool before using it keeps database/sql
// from ever having waiters and makes the wait first come, first served.
type fifoGate struct {
	mu      sync.Mutex
	free    int
	waiters []chan struct{}
}

func newFIFOGate(n int) *fifoGate { return &fifoGate{free: n} }

// acquire waits for a place, in arrival order; it fails only when ctx ends first.
func (g *fifoGate) acquire(ctx context.Context) error {
	g.mu.Lock()
	if g.free > 0 && len(g.waiters) == 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.waiters = append(g.waiters, ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for i, w := range g.waiters {
			if w == ch {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				g.mu.Unlock()
				return ctx.Err()
			}
		}
		g.mu.Unlock()
		// Granted meanwhile: hand the place on.
		g.release()
		return ctx.Err()
	}
}

// tryAcquire takes a place when one is free and nobody waits for it; it never waits.
func (g *fifoGate) tryAcquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.free > 0 && len(g.waiters) == 0 {
		g.free--
		return true
	}
	return false
}

// release gives the place to the longest waiter, or frees it.
func (g *fifoGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.waiters) > 0 {
		ch := g.waiters[0]
		g.waiters[0] = nil
		g.waiters = g.waiters[1:]
		close(ch)
		return
	}
	g.free++
}

// writerReads holds the hot read statements prepared on the write connection as well, keyed by
// their read-pool statement (stmts.prepare), for readStmt.
type writerReads struct {
	m map[*sql.Stmt]*sql.Stmt
}

func (wr *writerReads) prepare(ctx context.Context, w *sql.DB, read *sql.Stmt, query string) error {
	stmt, err := w.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("sqlite: prepare %q on the write connection: %w", query, err)
	}
	if wr.m == nil {
		wr.m = make(map[*sql.Stmt]*sql.Stmt)
	}
	wr.m[read] = stmt
	return nil
}

func (wr *writerReads) close() error {
	var errs []error
	for _, stmt := range wr.m {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// readStmt finds a connection for one short read with the prepared read-pool statement stmt
// and returns the statement to run there and the gate to release once its rows are closed.
//
// The read runs on the write connection when that is free this instant (nobody holds it or
// waits for it), else on the read pool, in turn. In WAL mode a commit empties the page cache of
// every other connection, so under load nearly every read on the read pool starts cold: it
// re-reads the b-tree pages from the WAL and the file, about 15 us and a few preads a read. The
// write connection keeps its cache across its own commits and holds the pages the last writes
// touched, which are what a sign-in reads next. A read there never waits behind a write (it
// goes to the read pool instead), and a write that arrives while it runs waits for that one
// short read only: tryAcquire fails while anyone waits, so reads cannot take turns ahead of a
// queued write. Both connections see every commit that finished before the read began (a read
// transaction starts at the newest snapshot). Only single-statement reads of a row or a few go
// here; long reads (exports, console lists) stay on the read pool.
func (s *Store) readStmt(ctx context.Context, stmt *sql.Stmt) (*sql.Stmt, *fifoGate, error) {
	if ws := s.st.onWriter.m[stmt]; ws != nil && s.wgate.tryAcquire() {
		return ws, s.wgate, nil
	}
	if err := s.rgate.acquire(ctx); err != nil {
		return nil, nil, err
	}
	return stmt, s.rgate, nil
}

// readRow runs a prepared single-row read (readStmt: on the write connection when it is free,
// else on the read pool, in turn), scanning it with scan.
//
// Only the wait for a connection follows ctx. The read itself, a few b-tree seeks on a
// connection already held (a WAL reader waits for no writer), runs under ctx without its
// cancellation: with a cancellable context database/sql starts a goroutine per query to close
// its rows when ctx ends (Rows.awaitDone) and the driver another to interrupt it
// (interruptOnDone), two goroutines started, scheduled and ended for every read of a sign-in
// to save a few microseconds of a browser that has gone away.
func readRow[T any](ctx context.Context, s *Store, stmt *sql.Stmt, scan func(scanner) (T, error), args ...any) (T, error) {
	stmt, gate, err := s.readStmt(ctx, stmt)
	if err != nil {
		var zero T
		return zero, err
	}
	defer gate.release()
	return scan(stmt.QueryRowContext(context.WithoutCancel(ctx), args...))
}

// readOnWriter runs read on the write connection's driver connection, with statements prepared
// there once (rawConn), when that connection is free this instant (readStmt: nobody holds it or
// waits for it), and reports whether it did; when it is not free, the caller reads on the read
// pool instead (readRow), so that a read never waits behind a write. It spares the read
// database/sql's statement, rows and conversions (6 of the 76 allocations and 470 of the 2,540
// bytes of a family read, BenchmarkFamilyGet; the rest is the driver's rows, which name and
// type every column, and the row's values) on top of readStmt's warm page cache. A write arriving meanwhile
// waits for this one short read, as with readStmt. The read runs outside any transaction
// (the write gate is held from a batch's BEGIN to its COMMIT), at the newest snapshot: it sees
// every commit that finished before it began. ctx's cancellation does not reach the read
// (readRow).
func readOnWriter[T any](ctx context.Context, s *Store, read func(ctx context.Context, rc *rawConn) (T, error)) (out T, ran bool, err error) {
	if !s.wgate.tryAcquire() {
		return out, false, nil
	}
	defer s.wgate.release()
	ctx = context.WithoutCancel(ctx)
	if rerr := s.onRaw(ctx, func(rc *rawConn) { out, err = read(ctx, rc) }); rerr != nil {
		// The driver connection could not be had or its statements prepared (the store is
		// closing): the read pool answers, as when the writer is busy.
		return out, false, nil
	}
	s.rawReads.Add(1)
	return out, true, err
}
