package bridge_test

// Review s22 X, on 8850b1f: "Sign out of <app> on all your devices" revokes the member's
// grants at the app, tells the app, and only then takes the app out of the member's live
// sessions (LeaveClient), in three separate steps. A sign-in into the app in another browser
// landing between the revocation and LeaveClient gets a live grant, and then LeaveClient
// removes the app from that browser's session: the session holds a live sign-in the store no
// longer lists, so its sign-out (and "Sign out of all devices") sends the app no back-channel
// logout, and the account page no longer offers to sign out of it. Drop into bridge/.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

type beforeLeaveClient struct {
	*sqlite.Store
	mu     sync.Mutex
	before func()
	after  bool // run before just after LeaveClient instead
}

// SignOutOfClient: since session 23 (H4) "Sign out of <app>" is this one transaction, so a
// sign-in lands just before or just after all of it.
func (s *beforeLeaveClient) SignOutOfClient(ctx context.Context, subject, clientID string) (int, int, error) {
	s.mu.Lock()
	f, after := s.before, s.after
	s.before = nil
	s.mu.Unlock()
	if f != nil && !after {
		f()
	}
	left, n, err := s.Store.SignOutOfClient(ctx, subject, clientID)
	if f != nil && after {
		f()
	}
	return left, n, err
}

// Since the mend (LeaveClient first, then RevokeGrants, which also consumes the member's
// unexchanged codes of the app, then the logout token), a sign-in landing before or just after
// LeaveClient either has its code refused (invalid_grant: the sign-out came after it) or, when
// its tokens are live, stays listed by its session. Both landing points are run.
func TestXSignInDuringSignOutOfAppIsForgotten(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before SignOutOfClient", true: "after SignOutOfClient"}[after], func(t *testing.T) {
			testSignInDuringSignOutOfApp(t, after)
		})
	}
}

func testSignInDuringSignOutOfApp(t *testing.T, after bool) {
	var st *beforeLeaveClient
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &beforeLeaveClient{Store: s}
		return st
	}}, withGrantClients)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	here, there := e.browser(), e.browser()
	for _, b := range []*bridgetest.Browser{here, there} {
		e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password")
	}
	var code string
	st.mu.Lock()
	st.before = func() { code = e.signIn(there, other.AuthCodeURL("again"), "alice", "alice-password") }
	st.after = after
	st.mu.Unlock()
	acc := here.Get(e.issuer + "/account")
	done := here.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"signout"}})
	if done.URL.Query().Get("done") != "signedout" {
		t.Fatalf("sign out of the app: %d at %s", done.Status, done.URL)
	}
	if code == "" {
		t.Fatal("no code from the sign-in during the sign-out of the app")
	}
	tok, err := other.Exchange(e.ctx(), code)
	if err != nil {
		// The sign-out closed the sign-in that landed during it: no live tokens, nothing to list.
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("exchange of the code issued during the sign-out of the app: %v, want tokens or invalid_grant", err)
		}
		return
	}
	live, err := st.Sessions(e.ctx(), "")
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, s := range live {
		listed = listed || slices.Contains(s.Clients, "other")
	}
	if !listed {
		t.Fatalf("the app signed into during \"Sign out of <app>\" holds live tokens (access token %t) but no live session lists it: "+
			"signing out of that browser will not tell the app, and the account page does not offer to sign out of it", tok.AccessToken != "")
	}
	_ = http.StatusOK
}
