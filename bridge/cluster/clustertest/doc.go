// Package clustertest is the conformance suite of cluster.Node implementations (Run) and the
// scratch PostgreSQL databases their tests and the replica tests use (PostgresDSN).
package clustertest
