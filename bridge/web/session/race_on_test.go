//go:build race

package session

// raceEnabled: under the race detector sync.Pool drops a share of what is put back on purpose,
// so the pooled MACs are rebuilt at random and allocation budgets cannot hold.
const raceEnabled = true
