package store

import (
	"context"
	"sync"
	"time"
)

// Budget is how long the store calls of one request may wait in all, shared by them: a
// request that calls the store several times in a row (a rate-limit count, then its own write)
// waits at most once the budget for a store that hangs, instead of once per call. A store that
// bounds its calls (PostgreSQL: store.statement_timeout) gives each call the smaller of its own
// bound and what is left; the SQLite store does not read it. Safe for concurrent use.
type Budget struct {
	mu   sync.Mutex
	left time.Duration
}

type budgetKey struct{}

// WithBudget returns ctx carrying a fresh budget of total for the store calls made with it.
func WithBudget(ctx context.Context, total time.Duration) context.Context {
	return context.WithValue(ctx, budgetKey{}, &Budget{left: total})
}

// BudgetOf is ctx's budget, or nil.
func BudgetOf(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Left is what the budget has left (zero or less: nothing).
func (b *Budget) Left() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// Spend takes d, the time a call waited, from the budget.
func (b *Budget) Spend(d time.Duration) {
	b.mu.Lock()
	b.left -= d
	b.mu.Unlock()
}

// RequestBudgeter is a store that bounds its calls: RequestBudget is the budget a request's
// calls share (WithBudget).
type RequestBudgeter interface {
	RequestBudget() time.Duration
}
