package bridge_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// expireBeforeIssue is a store whose clock, once armed, moves on by skip at the start of the
// next code exchange's IssueTokens: the code's session expires between the provider's early
// read (which found it live) and the exchange's write.
type expireBeforeIssue struct {
	store.Store
	clock *testClock
	mu    sync.Mutex
	skip  time.Duration
}

func (s *expireBeforeIssue) IssueTokens(ctx context.Context, in sso.Issue) error {
	s.mu.Lock()
	skip := s.skip
	if in.ConsumeCodeHash != "" {
		s.skip = 0
	}
	s.mu.Unlock()
	if skip != 0 && in.ConsumeCodeHash != "" {
		s.clock.advance(skip)
	}
	return s.Store.IssueTokens(ctx, in)
}

// TestCodeExchangeRacingSessionExpiry (session 23 P7, left by s22 F4): a session that expires
// (it is not ended, and not purged yet) between the token endpoint's check that the code's
// session is live and the exchange's write leaves no grant: the store's compare-and-set on the
// code requires the session unexpired at its clock, as it requires it held and not ended. The
// session lives 2 minutes and the code 10; the store's clock moves 3 minutes on just before the
// write. Before: the store took an expired session as live, and the exchange wrote a
// session-bound family of an expired session.
func TestCodeExchangeRacingSessionExpiry(t *testing.T) {
	clock := &testClock{}
	var st *expireBeforeIssue
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &expireBeforeIssue{Store: s, clock: clock}
		return st
	}}, func(c *bridge.Config) {
		c.Session.Lifetime = 2 * time.Minute
		c.Tokens.Code = 10 * time.Minute
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), web.AuthCodeURL("a"), "alice", "alice-password")
	if code == "" {
		t.Fatal("no code for web")
	}
	st.mu.Lock()
	st.skip = 3 * time.Minute
	st.mu.Unlock()
	tok, err := web.Exchange(e.ctx(), code)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("exchange of a code whose session expired meanwhile: %v (token %v), want invalid_grant", err, tok != nil)
	}
}
