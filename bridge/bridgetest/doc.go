// Package bridgetest has test helpers for the bridge: an in-memory member directory and a
// scripted browser. It is imported only by tests.
package bridgetest
