package bridge_test

import (
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSSOCodeFromCacheRefusedAsTheStore (SQLite, the bridge's callback guard): a code op's
// callback issued for a sign-in from the browser's live session, whose request the provider
// keeps (no read at its exchange), is still refused when what the store holds says so:
//   - replayed after its exchange: invalid_grant, one token.code_replay row with the detail a
//     replay found on any replica has, and the first exchange's refresh token revoked;
//   - its session ended between the code and the exchange: invalid_grant "invalid code", one
//     token.code_session_ended row, no tokens.
func TestSSOCodeFromCacheRefusedAsTheStore(t *testing.T) {
	st := &readCountingStore{}
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st.Store = s
		return st
	}})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	if _, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("a"), "alice", "alice-password")); err != nil {
		t.Fatalf("login form's code: %v", err)
	}
	wantRefused := func(what string, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.ErrorDescription != "invalid code" {
			t.Fatalf("%s: %v, want invalid_grant \"invalid code\"", what, err)
		}
	}
	rows := func(event string) []store.AuditEvent {
		t.Helper()
		evs, err := st.Store.AuditEvents(e.ctx(), store.AuditFilter{Event: event})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]store.AuditEvent, 0, len(evs))
		for _, ev := range evs {
			out = append(out, *ev)
		}
		return out
	}

	// Replayed.
	st.reads.Store(0)
	code := e.signIn(b, web.AuthCodeURL("b"), "alice", "alice-password") // live session: op's callback
	tok, err := web.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatalf("SSO code: %v", err)
	}
	if n := st.reads.Load(); n != 0 {
		t.Fatalf("the SSO code's exchange read its request %d times, want 0", n)
	}
	_, err = web.Exchange(e.ctx(), code)
	wantRefused("replay", err)
	if evs := rows("token.code_replay"); len(evs) != 1 || evs[0].Detail != "code used twice; tokens issued from it revoked" || evs[0].ClientID != "web" {
		t.Fatalf("token.code_replay rows: %+v", evs)
	}
	if _, err := web.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("the replayed code's refresh token still refreshes")
	}

	// Its session ended between the code and the exchange (the cached request says live).
	code = e.signIn(b, web.AuthCodeURL("c"), "alice", "alice-password")
	sessions, err := st.Sessions(e.ctx(), "")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %d, %v", len(sessions), err)
	}
	if err := st.EndSession(e.ctx(), sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	st.reads.Store(0)
	tok, err = web.Exchange(e.ctx(), code)
	wantRefused("session ended", err)
	if tok != nil {
		t.Fatal("tokens for a code of an ended session")
	}
	if n := st.reads.Load(); n != 0 {
		t.Fatalf("the exchange read the request %d times, want 0 (refused by the grant's write)", n)
	}
	if evs := rows("token.code_session_ended"); len(evs) != 1 || evs[0].ClientID != "web" {
		t.Fatalf("token.code_session_ended rows: %+v", evs)
	}
}
