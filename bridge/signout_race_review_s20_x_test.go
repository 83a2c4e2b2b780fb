package bridge_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// interleavedEnd is a store whose next EndSessionWithEvents first runs during (once armed):
// what another request of the same browser does between the sign-out's read of the session
// and its end.
type interleavedEnd struct {
	store.Store
	mu     sync.Mutex
	during func(sessionID string)
}

func (s *interleavedEnd) EndSessionWithEvents(ctx context.Context, sessionID string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	s.mu.Lock()
	f := s.during
	s.during = nil
	s.mu.Unlock()
	if f != nil {
		f(sessionID)
	}
	return s.Store.EndSessionWithEvents(ctx, sessionID, build)
}

// TestSignOutReachesAnAppSignedIntoMeanwhile (review s20 X20-1; Back-Channel Logout 1.0 2.7,
// README "Sign-out everywhere"): a member signs out in one tab while another tab of the same
// browser signs in to a second app with the same session. The second app's sign-in lands
// after the sign-out read the session (its apps: web) and before the sign-out ended it: the
// app got an ID token naming the session (sid), so it must be sent a logout token when that
// session ends. Before: the logout events were built from the session as the sign-out read it
// at the start of its request, outside the store's transaction that ends the session, so the
// app signed into meanwhile was never told and kept the member signed in after "sign out".
func TestSignOutReachesAnAppSignedIntoMeanwhile(t *testing.T) {
	rec := newBCLRecorder(t)
	var st *interleavedEnd
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &interleavedEnd{Store: s}
		return st
	}}, withGrantClients, rec.withBCL)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	if code := e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password"); code == "" {
		t.Fatal("no code for web")
	}
	var sid string
	st.during = func(string) {
		// The other tab: "other" asks, the session answers it at once (no form).
		p := b.Get(other.AuthCodeURL("b"))
		q := p.Redirected(t)
		if q.Get("code") == "" {
			t.Errorf("other's sign-in in the other tab: %v", q)
			return
		}
		sid = sidOf(t, e, other, q.Get("code"))
	}
	out := b.Get(e.issuer + "/logout")
	f := out.Hidden()
	if f.Get("csrf") == "" {
		t.Fatalf("no sign-out form: %d %.300s", out.Status, out.Body)
	}
	b.Post(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}})
	if sid == "" {
		t.Fatal("other was not signed in during the sign-out")
	}
	got := rec.delivered(t, e)
	for _, c := range got {
		if c["sid"] == sid && c["aud"] == "other" {
			return
		}
	}
	t.Fatalf("the session %s ended but other, which it signed into, got no logout token (got %v)", sid, got)
}
