package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// sessionReadFault is the SQLite store whose session reads by cookie fail (the store
// unreachable) while down is set.
type sessionReadFault struct {
	*sqlite.Store
	down atomic.Bool
}

func (s *sessionReadFault) SessionByCookie(ctx context.Context, key string) (*sso.Session, error) {
	if s.down.Load() {
		return nil, fmt.Errorf("sqlite: session by cookie: %w: connection refused", sso.ErrUnavailable)
	}
	return s.Store.SessionByCookie(ctx, key)
}

// TestHandoffFailsClosedWhenTheSessionCannotBeRead (review s19, noticed): a hand-off whose
// browser session cannot be read (a store fault, not "no session") is refused with 503 and
// audited once as handoff.failure session_unavailable, from the AMS's POST and from the
// "Switch member?" confirmation; the other member's session is never replaced, and the
// confirmation's ticket is not spent by the refusal. Before, the fault read as "no session":
// the hand-off skipped the "Switch member?" page and signed alice in over bob.
func TestHandoffFailsClosedWhenTheSessionCannotBeRead(t *testing.T) {
	st := &sessionReadFault{}
	e := newEnvDeps(t, true, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st.Store = s
		return st
	}})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	failures := func() []string {
		ev, err := st.AuditEvents(context.Background(), store.AuditFilter{Event: "handoff.failure", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var d []string
		for _, a := range ev {
			d = append(d, a.Detail)
		}
		return d
	}
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s"), "bob", "bob-password")
	signedInAs := func(login string) bool {
		acc := b.Get(e.issuer + "/account")
		return acc.Status == http.StatusOK && strings.Contains(acc.Body, ">"+login+"<")
	}
	if !signedInAs("bob") {
		t.Fatalf("bob not signed in: %.300s", b.Get(e.issuer+"/account").Body)
	}

	// From the AMS's POST.
	tok, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	st.down.Store(true)
	p := amsPost(t, e, b, url.Values{"refresh_token": {tok}})
	st.down.Store(false)
	if p.Status != http.StatusServiceUnavailable || strings.Contains(p.Body, "Switch member?") {
		t.Fatalf("hand-off during a session read fault: %d %.300s", p.Status, p.Body)
	}
	if got := failures(); len(got) != 1 || got[0] != "session_unavailable" {
		t.Fatalf("audit after the POST: %q", got)
	}
	if !signedInAs("bob") {
		t.Fatal("the hand-off replaced bob's session during the fault")
	}

	// From the "Switch member?" confirmation.
	tok, _ = e.amsSim.IssueRefreshToken("alice", "ssobridge")
	p = amsPost(t, e, b, url.Values{"refresh_token": {tok}})
	if !strings.Contains(p.Body, "Switch member?") {
		t.Fatalf("no confirmation page: %d %.300s", p.Status, p.Body)
	}
	f := p.Hidden()
	switchTo := url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}, "decision": {"switch"}}
	st.down.Store(true)
	p = b.Post(e.issuer+"/handoff/confirm", switchTo)
	st.down.Store(false)
	if p.Status != http.StatusServiceUnavailable {
		t.Fatalf("switch during a session read fault: %d %.300s", p.Status, p.Body)
	}
	if got := failures(); len(got) != 2 || got[0] != "session_unavailable" {
		t.Fatalf("audit after the switch: %q", got)
	}
	if !signedInAs("bob") {
		t.Fatal("the switch replaced bob's session during the fault")
	}
	// The refusal did not spend the ticket: the member's switch goes through once the store answers.
	if p = b.Post(e.issuer+"/handoff/confirm", switchTo); !signedInAs("alice") {
		t.Fatalf("switch after the fault: %d %.300s", p.Status, p.Body)
	}
}
