package sqlite

import (
	"context"
	"database/sql"
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

// wexec runs a statement on the write connection, in turn.
func (s *Store) wexec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.wgate.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.wgate.release()
	return s.w.ExecContext(ctx, query, args...)
}

// wexecStmt runs a prepared write statement on the write connection, in turn.
func (s *Store) wexecStmt(ctx context.Context, stmt *sql.Stmt, args ...any) (sql.Result, error) {
	if err := s.wgate.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.wgate.release()
	return stmt.ExecContext(ctx, args...)
}

// readRow runs a prepared single-row read on the read pool, in turn, scanning it with scan.
func readRow[T any](ctx context.Context, s *Store, stmt *sql.Stmt, scan func(scanner) (T, error), args ...any) (T, error) {
	if err := s.rgate.acquire(ctx); err != nil {
		var zero T
		return zero, err
	}
	defer s.rgate.release()
	return scan(stmt.QueryRowContext(ctx, args...))
}
