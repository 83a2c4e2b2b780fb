//go:build !unix

package sqlite

// pollTurn (see pollturn.go) has no pipe to park on here: a leader does not wait for a poll.
type pollTurn struct{}

func (p *pollTurn) wait() error  { return errPollClosed }
func (p *pollTurn) close() error { return nil }
