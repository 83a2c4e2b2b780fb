package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// codeStateOnly is an issueStmts whose compare-and-set changes nothing and whose code read
// answers as given: the driver path's contract (rawConn.codeState reports found false with
// its error).
type codeStateOnly struct {
	issueStmts
	st    codeStatus
	found bool
	err   error
}

func (codeStateOnly) consumeCode(context.Context, string, string, int64) (int64, error) {
	return 0, nil
}

func (c codeStateOnly) codeState(context.Context, string, string, int64) (codeStatus, bool, error) {
	return c.st, c.found, c.err
}

// TestConsumeCodeExplains (final read s18 R2-1): a code whose compare-and-set changed nothing
// is explained by its state: unknown or expired is ErrNotFound, live is ErrCodeConsumed, live
// and unused with its session ended is ErrSessionEnded (review s20 "noticed": a sign-out
// between the provider's session check and the exchange), and a failed read is that failure (a server error), not ErrNotFound (invalid_grant): the driver
// path reports found false along with its error.
func TestConsumeCodeExplains(t *testing.T) {
	errRead := errors.New("disk I/O error")
	for _, tc := range []struct {
		name  string
		state codeStateOnly
		want  error
	}{
		{"read failed", codeStateOnly{err: errRead}, errRead},
		{"read failed with a row", codeStateOnly{found: true, err: errRead}, errRead},
		{"unknown", codeStateOnly{}, sso.ErrNotFound},
		{"expired", codeStateOnly{found: true, st: codeStatus{expires: 10}}, sso.ErrNotFound},
		{"used", codeStateOnly{found: true, st: codeStatus{expires: 200, consumed: true}}, sso.ErrCodeConsumed},
		{"session ended", codeStateOnly{found: true, st: codeStatus{expires: 200, sessionEnded: true}}, sso.ErrSessionEnded},
		{"used, session ended", codeStateOnly{found: true, st: codeStatus{expires: 200, consumed: true, sessionEnded: true}}, sso.ErrCodeConsumed},
		{"expired, session ended", codeStateOnly{found: true, st: codeStatus{expires: 10, sessionEnded: true}}, sso.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := consumeCode(t.Context(), tc.state, "request", "hash", 100)
			if !errors.Is(err, tc.want) || (tc.want == errRead && errors.Is(err, sso.ErrNotFound)) {
				t.Fatalf("consumeCode = %v, want %v", err, tc.want)
			}
		})
	}
}
