package sqldir

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache prepares each query text once, on first use, and keeps it for the directory's
// life (database/sql prepares it again on each pooled connection it runs on).
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

// errClosed: the directory was closed.
var errClosed = errors.New("sqldir: directory closed")

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, errClosed
	case ok:
		return st, nil
	}
	// Prepared outside the lock: a slow database holds up only the queries not prepared yet.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err // not kept: the next run tries again (the database may be back)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = st.Close()
		return nil, errClosed
	}
	if prev, ok := c.m[query]; ok { // prepared meanwhile by another run
		_ = st.Close()
		return prev, nil
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m, c.closed = nil, true
}
