package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// raceGate makes two calls race, once armed: the first waits for a second to arrive, and the
// second waits for the first to finish (two submissions of one form that both read a request
// while it was pending, the second losing its compare-and-set). Not armed, it holds nothing.
type raceGate struct {
	mu            sync.Mutex
	n             int
	second, first chan struct{} // nil: not armed
}

// arm makes the next two calls through enter race as above.
func (g *raceGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n, g.second, g.first = 0, make(chan struct{}), make(chan struct{})
}

// enter holds a call as its place in the race says and returns what the call runs once it is
// done (deferred: the first call's end lets the second go on).
func (g *raceGate) enter() (done func()) {
	g.mu.Lock()
	g.n++
	n, second, first := g.n, g.second, g.first
	g.mu.Unlock()
	switch {
	case first == nil:
	case n == 1:
		select {
		case <-second:
		case <-time.After(10 * time.Second):
		}
		return func() { close(first) }
	case n == 2:
		close(second)
		<-first
	}
	return func() {}
}

// raceSignIns is a store whose CompleteSignIns race through a raceGate once armed: two
// submissions of one login form. Not armed, it passes every call on (TestStoreFakesConformance).
type raceSignIns struct {
	store.Store
	raceGate
}

func (r *raceSignIns) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	defer r.enter()()
	return r.Store.CompleteSignIn(ctx, in)
}

// TestDoubleSubmittedLoginLeavesOneSession: a login form submitted twice at once (a
// double-click) signs the browser in once. The submission that loses the request's
// compare-and-set leaves no live session behind and sets no cookie: the one live session is the
// winner's, which carries the app and which this browser's cookie names, so signing out in this
// browser ends every session the double-click made. Before, the loser's session was written
// with its login.success row and put in the cookie, so the browser could end up holding the
// session without the app while the app's session stayed live after sign-out.
func TestDoubleSubmittedLoginLeavesOneSession(t *testing.T) {
	var rs *raceSignIns
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rs = &raceSignIns{Store: st}
		return rs
	}})
	ctx := t.Context()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	p := b.Get(web.AuthCodeURL("s"))
	f := p.Hidden()
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatalf("no login form: %d %.300s", p.Status, p.Body)
	}
	form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
	rs.arm()
	type answer struct {
		status int
		loc    string
		err    error
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.Client.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, loc: resp.Header.Get("Location")}
		}()
	}
	codes := 0
	for range 2 {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		if strings.HasPrefix(a.loc, e.rp+"/callback") && strings.Contains(a.loc, "code=") {
			codes++
		} else if a.status != http.StatusConflict {
			t.Errorf("a submission answered %d %q, want the code or the already-used page", a.status, a.loc)
		}
	}
	if codes != 1 {
		t.Fatalf("%d submissions got a code, want 1", codes)
	}
	live, err := rs.Sessions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 {
		t.Fatalf("%d live sessions after a double-submitted login, want 1", len(live))
	}
	if len(live[0].Clients) != 1 || live[0].Clients[0] != "web" {
		t.Errorf("the live session has clients %v, want [web] (the winner's)", live[0].Clients)
	}
	// Signing out in this browser ends it: the cookie names the live session.
	out := b.Get(e.issuer + "/end_session")
	if !strings.Contains(out.Body, "Sign out?") {
		t.Fatalf("end_session: %d %.300s, want the confirmation", out.Status, out.Body)
	}
	b.Post(e.issuer+"/logout", out.Hidden())
	if live, err := rs.Sessions(ctx, ""); err != nil || len(live) != 0 {
		t.Errorf("after signing out in this browser, %d sessions live (%v), want 0", len(live), err)
	}
}
