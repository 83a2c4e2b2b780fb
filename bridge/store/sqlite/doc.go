// Package sqlite is the SQLite backend of the bridge store (store.Store, which embeds sso.Store),
// built on the pure-Go driver modernc.org/sqlite.
//
// # Connections
//
// SQLite allows one writer at a time. A file database is therefore opened twice: a write pool of
// exactly one connection, whose transactions begin IMMEDIATE (the write lock is taken at BEGIN,
// so a transaction never fails half-way with SQLITE_BUSY when it upgrades from read to write),
// and a read-only pool of several connections that run in parallel thanks to WAL mode. Writes
// from this process queue on the single write connection instead of spinning in the busy
// handler; busy_timeout covers other processes (an admin CLI) sharing the file.
//
// A background goroutine checkpoints the WAL into the main file every second (passive checkpoints
// take no write lock), so that commits never pay for it and a page changed many times in that
// second is copied once (WithCheckpointInterval). When a tick finds the WAL wholly copied back
// and unchanged since the previous one (nothing writing), it truncates it, so that an idle
// database on disk is its main file alone.
//
// ":memory:" uses a single database with a single connection for both reads and writes: an
// in-memory database lives and dies with its connection. It is meant for tests and development.
//
// # Group commit
//
// Every write goes through one group-commit queue (writeq.go): the writes waiting for the writer
// at a given moment (a login's request at /authorize, its sign-in at /login and its token grant,
// next to other logins' writes) are applied in one transaction, in arrival order, each inside its
// own SAVEPOINT so that a failing write rolls back alone, and committed once; a write of one
// statement needs no savepoint, and one that runs alone runs in autocommit. Each write sees the
// ones before it in its batch, so compare-and-set transitions behave as if the writes ran one
// after another. A failed COMMIT fails every write of its batch.
//
// # Token grants
//
// IssueTokens is the hot write path (one call per code or refresh grant). Its statements are
// prepared once at Open and it is group-committed with every other write (see issue.go).
// Tokens are stored per family: its compare-and-set state (generation, current token hash,
// revoked, expiry, rotation time) in the narrow families table, rotated in place with a
// compare-and-set on its generation, and what the grant says (client, subject, scopes, session)
// in family_grants, written once; a refresh rotation reads and writes only the narrow row.
// Access tokens are not stored (revoked_access_tokens lists those revoked one by one). The two
// tables carry only the indexes revocation needs (family_grants by subject and client, and by
// client alone for a client's removal or the revocation of its grants; no expiry index: Purge
// walks the families key), because every index is one more page written by every new grant.
//
// # Encoding
//
// Times are stored as INTEGER unix nanoseconds (UTC); the zero time.Time is stored as 0 and read
// back as the zero value. String lists are stored as JSON arrays in TEXT columns (an empty list is
// stored as the empty string and read back as nil). Hashes are TEXT. Booleans are INTEGER 0/1.
//
// # Expiry
//
// Expired rows count as not found everywhere, compared against the store's clock (time.Now unless
// WithClock is given) or, for refresh-token rotation, against Rotation.Now. Purge deletes them.
//
// # Schema
//
// The schema is versioned: migrations (migrations.go) are applied in order, all in one
// transaction at Open, and recorded in schema_migrations. A database written by a newer binary
// (an unknown version) is refused rather than used.
package sqlite
