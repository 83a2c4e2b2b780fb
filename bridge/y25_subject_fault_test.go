package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// y25SubjectFaultStore is the SQLite store whose SubjectByID fails while fail is set (a busy
// database, a query cut by its deadline).
type y25SubjectFaultStore struct {
	*sqlite.Store
	fail *atomic.Bool
}

func (s y25SubjectFaultStore) SubjectByID(ctx context.Context, subject string) (*store.Subject, error) {
	if s.fail.Load() {
		return nil, errors.New("sqlite: subject by id: database is locked")
	}
	return s.Store.SubjectByID(ctx, subject)
}

// Review s25 Y-2 (Medium), end to end: a member signs in on one bridge process; the next
// request reaches a process that has not mapped the member's subject yet (a restart, another
// replica behind the load balancer: here a second server on the same store), and the store
// fails that one read. authflow's Member takes the failure for "the member may no longer sign
// in": the account page ends the member's session (back-channel logouts to every app) and
// says "Your account cannot be used". Once the store answers again the member is signed out.
// Fails on main: 403 "Your account cannot be used", and the session is gone afterwards.
func TestY25SubjectReadFaultDoesNotEndTheSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	var st *sqlite.Store
	fail := new(atomic.Bool)
	open := func(t testing.TB) store.Store {
		if st == nil {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			st = s
		}
		return y25SubjectFaultStore{Store: st, fail: fail}
	}
	a := newEnvDeps(t, false, nil, envDeps{store: open})
	web, _ := a.oauth("web", webSecret, a.rp+"/callback", oauth2.AuthStyleInHeader)
	b := a.browser()
	a.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password")

	// The second process, on the same store and directory: its subject map is empty. The
	// browser's cookies go to it (cookies do not tell ports apart).
	second := newEnvDeps(t, false, a.dir, envDeps{store: open})
	fail.Store(true)
	p := b.Get(second.issuer + "/account")
	fail.Store(false)
	if p.Status == http.StatusForbidden || strings.Contains(p.Body, "cannot be used") {
		t.Errorf("/account while the store fails one subject read: %d, the member told their account cannot be used", p.Status)
	}
	if p := b.Get(second.issuer + "/account"); p.Status != http.StatusOK {
		t.Errorf("/account once the store answers: %d (the session was ended for a server fault)", p.Status)
	}
}
