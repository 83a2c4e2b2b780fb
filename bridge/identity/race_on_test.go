//go:build race

package identity_test

// raceEnabled: sync.Pool drops a share of what is put back under the race detector, so
// allocation budgets that rely on a pool do not hold there.
const raceEnabled = true
