package bridge_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// endBeforeIssue is a store that, once armed, ends the code's session at the start of the next
// code exchange's IssueTokens: a sign-out landing after the provider found the session live
// and before the tokens are written.
type endBeforeIssue struct {
	store.Store
	mu      sync.Mutex
	session string
}

func (s *endBeforeIssue) IssueTokens(ctx context.Context, in sso.Issue) error {
	s.mu.Lock()
	id := s.session
	if in.ConsumeCodeHash != "" {
		s.session = ""
	}
	s.mu.Unlock()
	if id != "" && in.ConsumeCodeHash != "" {
		if err := s.Store.EndSession(ctx, id); err != nil {
			return err
		}
	}
	return s.Store.IssueTokens(ctx, in)
}

// TestCodeExchangeRacingSignOut (review s20, noticed with X20-1; OIDC Core 11, README
// "Security properties"): a sign-out that ends the session between the token endpoint's check
// that the code's session is live and the exchange's write leaves no grant of that session:
// the exchange is refused (invalid_grant), as a code of a session ended before is. Before: the
// session-live check and the write were two steps, so the exchange wrote a session-bound
// family after the sign-out had revoked the session's, and its access token outlived the
// sign-out.
func TestCodeExchangeRacingSignOut(t *testing.T) {
	var st *endBeforeIssue
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &endBeforeIssue{Store: s}
		return st
	}})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password")
	if code == "" {
		t.Fatal("no code for web")
	}
	sessions, err := st.Sessions(e.ctx(), "")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %d, %v", len(sessions), err)
	}
	st.mu.Lock()
	st.session = sessions[0].ID
	st.mu.Unlock()
	tok, err := web.Exchange(e.ctx(), code)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("exchange of a code whose session ended meanwhile: %v (token %v), want invalid_grant", err, tok != nil)
	}
	if live, _ := st.Sessions(e.ctx(), ""); len(live) != 0 {
		t.Fatalf("the session did not end: %d live", len(live))
	}
}
