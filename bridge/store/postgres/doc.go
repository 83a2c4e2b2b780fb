// Package postgres is the PostgreSQL backend of the bridge store (store.Store, which embeds
// sso.Store), built on github.com/jackc/pgx/v5 and its pool (pgxpool). Several bridge replicas
// share one database: everything the store holds (sign-in requests and codes, refresh-token
// families, sessions, consents, device codes, the hand-off replay guard, shadow users, the outbox,
// the audit log, clients, keys, secrets) is read and written there, so any replica can serve any
// request.
//
// # Concurrency: READ COMMITTED with explicit compare-and-set
//
// Transactions run at READ COMMITTED, and every state transition that is a compare-and-set on
// SQLite is a single conditional statement here: `UPDATE ... WHERE <key> AND <expected state>`
// whose RowsAffected says whether this caller won (a code consumed once, a refresh family rotated
// from one generation once, a sign-in request bound and completed once, a device authorization
// decided once). At READ COMMITTED such an UPDATE that meets a row changed by a concurrent,
// still open transaction waits for it and then re-evaluates its WHERE clause against the
// committed row, so exactly one of several racing callers (on any replica) changes it and the
// others change nothing. When nothing changed, a following SELECT (a new statement, hence a
// new snapshot that sees the winner's commit) says why: consumed, rotated (reuse: the family is
// revoked and that revocation committed before ErrRefreshReused is returned), expired, unknown.
// Reads that decide a write in several steps lock their row first (SELECT ... FOR UPDATE: the
// device poll, the state of a family whose rotation failed).
//
// SERIALIZABLE would give the same guarantees without spelling the predicates out, but it
// aborts conflicting transactions with serialization failures that every caller would have to
// retry, and under the refresh-grant load the losers of a race would be retried only to fail
// the compare-and-set anyway. The explicit predicates are the same ones the SQLite backend uses,
// are tested by the same conformance suite, and by the tests here that race one code, one
// refresh token and one sign-in request across replicas with separate pools.
//
// A refresh grant (a rotation only) is one UPDATE in autocommit when its compare-and-set
// succeeds: no BEGIN/COMMIT round trips. A sign-in's writes (CompleteSignIn: session, audit
// row, request completed, session client) and a code exchange (code consumed, family inserted)
// are one statement each too: data-modifying CTEs, which a statement in autocommit applies
// atomically, the dependent insert reading the row the compare-and-set changed (none when it
// lost). A CTE's UPDATE waits for a concurrent change and re-checks its WHERE clause like a
// plain UPDATE. A rotation changes no indexed column of families (a family's narrow state; its
// grant is in family_grants, written once) and that table leaves room in each page (fillfactor
// 80), so it is usually a HOT update.
//
// # Outbox
//
// ClaimEvents locks candidate rows FOR UPDATE SKIP LOCKED and leases them (lease_until) in the
// same statement: replicas claim at once without waiting for one another and never get the same
// event, a key's later events wait behind its head, and an event whose claimer died is claimed
// again once its lease has run out (its attempt counted). The candidates are each client's first
// due heads, the clients with nothing in flight first (fairClaim; indexes outbox_client and
// outbox_client_lease): slow apps hold one claim each before any holds a second.
//
// # Change notifications
//
// Creating, updating or deleting a client and adding a signing key send pg_notify on
// ChangesChannel (payload ChangedClients or ChangedKeys) in the same transaction, so that
// listeners on other replicas hear of a change when, and only when, it commits.
//
// # Encoding
//
// The columns are the SQLite backend's, in PostgreSQL types: times are BIGINT unix nanoseconds
// (UTC; the zero time.Time is 0), string lists JSON arrays in TEXT (an empty list is the empty string), flags
// BOOLEAN, blobs BYTEA. Text is ordered bytewise where order is part of the contract
// (COLLATE "C"), as SQLite and Go order it, whatever the database's collation.
//
// # Schema
//
// The schema is versioned: migrations (migrations.go) are applied in order, all in one
// transaction, under a transaction-scoped advisory lock so that replicas starting together apply
// each migration once, and recorded in schema_migrations. A database written by a newer binary
// (an unknown version) is refused rather than used. The tables live in the first schema of the
// connection's search_path (public by default; a DSN can name another with search_path=...).
//
// # Expiry
//
// Expired rows count as not found everywhere, compared against the store's clock (time.Now unless
// WithClock is given; replicas' clocks should be synchronised) or, for refresh-token rotation,
// against Rotation.Now. Purge deletes them in bounded batches.
package postgres
