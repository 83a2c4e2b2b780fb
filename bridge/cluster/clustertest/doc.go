// Package clustertest is the conformance suite of cluster.Node implementations (Run). The
// PostgreSQL runs get their scratch databases from bridge/store/postgres/pgtest.
package clustertest
