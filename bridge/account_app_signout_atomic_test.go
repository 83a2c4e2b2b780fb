package bridge_test

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestAccountSignOutOfAppAllOrNothing (session 23, left by s22 H3): "Sign out of <app>" whose
// revocation fails (a trigger refuses the families' update) leaves the app in the member's
// session, so the account page still offers to sign out of it, and the next try does it. It
// was three writes: LeaveClient committed first, so the app was no longer listed (nor offered)
// while its grants lived on.
func TestAccountSignOutOfAppAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	var st *sqlite.Store
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = s
		return s
	}}, withGrantClients)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	b := e.browser()
	if _, err := other.Exchange(e.ctx(), e.signIn(b, other.AuthCodeURL("s"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	listed := func() bool {
		t.Helper()
		live, err := st.Sessions(e.ctx(), "")
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(live, func(s *sso.Session) bool { return slices.Contains(s.Clients, "other") })
	}
	signOut := func() string {
		acc := b.Get(e.issuer + "/account")
		done := b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"other"}, "action": {"signout"}})
		return done.URL.Query().Get("done")
	}
	if _, err := db.ExecContext(e.ctx(), `CREATE TRIGGER refuse_revoke BEFORE UPDATE OF revoked ON families
		BEGIN SELECT RAISE(ABORT, 'revocation refused'); END`); err != nil {
		t.Fatal(err)
	}
	if got := signOut(); got == "signedout" {
		t.Fatal("sign out of the app succeeded with its revocation refused")
	}
	if !listed() {
		t.Fatal("a failed \"Sign out of <app>\" took the app out of the member's session: its grants live on and the account page no longer offers to sign out of it")
	}
	if _, err := db.ExecContext(e.ctx(), `DROP TRIGGER refuse_revoke`); err != nil {
		t.Fatal(err)
	}
	if got := signOut(); got != "signedout" || listed() {
		t.Fatalf("sign out of the app again: done=%q, app still listed %t", got, listed())
	}
}
