package postgres

import "github.com/jackc/pgx/v5"

// WithQueryTracer traces the statements the store's connections send (tests count round trips).
func WithQueryTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}
