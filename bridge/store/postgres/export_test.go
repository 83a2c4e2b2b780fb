package postgres

import (
	"github.com/jackc/pgx/v5"
)

// MigrationSQL is the SQL of schema version v (tests build older databases with it).
func MigrationSQL(v int) string { return migrations[v-1] }

// WithQueryTracer traces the statements the store's connections send (tests count round trips).
func WithQueryTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}

// FairClaim is the claim's statement (outbox.go): $1 now, $2 the lease's end, $3 the events
// passed over, $4 the excluded clients.
var FairClaim = fairClaim

// DeleteClientConsentsSQL and DeleteClientSessionsSQL are DeleteClientCounted's deletes of a
// client's consents and places in sessions ($1 the client id).
const (
	DeleteClientConsentsSQL = deleteClientConsentsSQL
	DeleteClientSessionsSQL = deleteClientSessionsSQL
)

// DeleteClientRequestsSQL and DeleteClientDevicesSQL are DeleteClientCounted's deletes of a
// client's sign-in requests and device authorizations ($1 the client id).
const (
	DeleteClientRequestsSQL = deleteClientRequestsSQL
	DeleteClientDevicesSQL  = deleteClientDevicesSQL
)
