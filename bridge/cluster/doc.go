// Package cluster coordinates the replicas of one bridge installation: leader leases for work
// that must run on one replica at a time (the AMS change poller, the reconcile, key rotation,
// purges) and change notifications that keep what each replica caches in memory (signing keys
// and the JWKS document, dynamic clients) in step with changes made on another replica or by
// the CLI.
//
// A Node is one replica's view. Two implementations:
//
//   - Local (local.go): one process, the default and what the SQLite store uses. Leases are
//     in-process; a Notify reaches this process's subscribers at once, and subscribers are also
//     called every Fallback interval so that a change made by another process (the CLI on the
//     same SQLite file) is picked up through the cache's own version check.
//   - Postgres (postgres.go): replicas sharing one PostgreSQL database. A lease is a session
//     advisory lock (pg_try_advisory_lock) taken on a connection dedicated to it and held as long
//     as that session lives: when the holder dies its session ends, the lock is free, and another
//     replica takes it at its next try (every Retry, default 1 s). A holder that cannot confirm its
//     session (a ping every Retry) stops its work. Notifications are LISTEN/NOTIFY on one
//     dedicated connection that reconnects after a failure; after each (re)connection, and every
//     Fallback interval, every subscriber is called as if notified, so a notification missed while
//     disconnected is caught by the cache's version check.
//
// Subscribers must be cheap when nothing changed (they compare a version and return): they are
// called on every notification of their topic and periodically. The hot path never waits for
// the cluster: caches are read from memory and replaced by the subscriber.
//
// clustertest holds the conformance suite both implementations pass.
package cluster
