//go:build race

package sso_test

// raceEnabled: under the race detector sync.Pool drops a share of what is put back on purpose,
// so allocation budgets that count on pooled buffers do not hold.
const raceEnabled = true
