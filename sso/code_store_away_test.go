package sso_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// x2DownStore is the in-memory store whose reads of a code's request and whose grant writes fail
// while down (the database away for a moment).
type x2DownStore struct {
	*memstore.Store
	down *atomic.Bool
}

var x2ErrDown = errors.New("database is away")

func (s x2DownStore) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	if s.down.Load() {
		return nil, false, x2ErrDown
	}
	return s.Store.CodeRequest(ctx, id)
}

func (s x2DownStore) IssueTokens(ctx context.Context, in sso.Issue) error {
	if s.down.Load() {
		return x2ErrDown
	}
	return s.Store.IssueTokens(ctx, in)
}

// Review s24 X2-1 (Low): with the store away at the exchange, a code presented where the login
// form committed it (codeCache) is answered 500 server_error (the write fails), and on another
// replica it was 400 invalid_grant "invalid code" (validateRequest wrapped codeRequest's
// server_error): the app dropped a code that may still be good. Both are the server's failure
// now, 500 server_error.
func TestCommittedCodeStoreAwayAnswersAsTheStore(t *testing.T) {
	for _, issuer := range codeIssuers { // the login form's code, op's callback's (SSO)
		t.Run(issuer.name, func(t *testing.T) {
			var down atomic.Bool
			wrap := func(m *memstore.Store) sso.Store { return x2DownStore{m, &down} }
			present := func(cached bool) (int, any, any) {
				a := newHarnessWith(t, wrap)
				b := newHarnessOn(t, a.store, wrap)
				code, verifier, _ := issuer.issue(a, "alice", "openid")
				at := b
				if cached {
					at = a
				}
				down.Store(true)
				defer down.Store(false)
				status, body := at.exchange("web", code, verifier, webRedirect)
				return status, body["error"], body["error_description"]
			}
			cs, ce, cd := present(true)
			ss, se, sd := present(false)
			if cs != ss || ce != se || cd != sd || cs != 500 || ce != "server_error" {
				t.Fatalf("store away: where committed %d %v %q; on another replica %d %v %q; want 500 server_error on both", cs, ce, cd, ss, se, sd)
			}
		})
	}
}
