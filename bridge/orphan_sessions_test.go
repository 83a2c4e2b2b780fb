package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// pairedReads is a store whose next two AuthRequest reads, once armed, wait for each other:
// two submissions of one form that both read their sign-in request before either answers (a
// double-click), so neither has seen the other's cookie or writes.
type pairedReads struct {
	store.Store
	armed atomic.Int32
	mu    sync.Mutex
	wait  chan struct{}
}

// arm makes the next two AuthRequest reads meet.
func (p *pairedReads) arm() {
	p.mu.Lock()
	p.wait = make(chan struct{})
	p.mu.Unlock()
	p.armed.Store(2)
}

func (p *pairedReads) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	if n := p.armed.Add(-1); n >= 0 {
		p.mu.Lock()
		w := p.wait
		p.mu.Unlock()
		if n == 0 {
			close(w)
		} else {
			select {
			case <-w:
			case <-time.After(10 * time.Second):
			}
		}
	}
	return p.Store.AuthRequest(ctx, id)
}

// orphanStores runs f on SQLite and on PostgreSQL (skipped without a server), the store wrapped
// in pairedReads.
func orphanStores(t *testing.T, f func(t *testing.T, deps envDeps, st func() *pairedReads)) {
	wrappedStores(t, func(st store.Store) *pairedReads { return &pairedReads{Store: st} }, f)
}

// wrappedStores runs f on SQLite and on PostgreSQL (skipped without a server), each environment's
// store wrapped by wrap; f's st returns the wrapper of the environment made last.
func wrappedStores[W store.Store](t *testing.T, wrap func(store.Store) W, f func(t *testing.T, deps envDeps, st func() W)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var w W
			open := func(t testing.TB) store.Store {
				st, err := sqlite.Open(t.Context(), sqlite.Memory)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			if name == "postgres" {
				pgtest.AdminDSN(t)
				open = onPostgres("").store
			}
			deps := envDeps{store: func(t testing.TB) store.Store {
				w = wrap(open(t))
				return w
			}}
			f(t, deps, func() W { return w })
		})
	}
}

type submitted struct {
	status int
	loc    string
	path   string
	body   string
}

// twice posts form to path of the bridge twice at once from browser b (the browser follows
// redirects within the bridge), the two requests reading their sign-in request together.
func twice(t *testing.T, pr *pairedReads, b *bridgetest.Browser, u string, form url.Values) []submitted {
	t.Helper()
	pr.arm()
	out := make(chan submitted, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.Client.Do(req)
			if err != nil {
				out <- submitted{status: -1, body: err.Error()}
				return
			}
			defer resp.Body.Close()
			var sb strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				sb.Write(buf[:n])
				if err != nil {
					break
				}
			}
			out <- submitted{status: resp.StatusCode, loc: resp.Header.Get("Location"), path: resp.Request.URL.Path, body: sb.String()}
		}()
	}
	a := []submitted{<-out, <-out}
	for _, s := range a {
		if s.status < 0 {
			t.Fatal(s.body)
		}
	}
	return a
}

func liveSessions(t *testing.T, st store.Store) []*sso.Session {
	t.Helper()
	l, err := st.Sessions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// onlyThenSignedOut fails unless want is the one live session left after a test's replays, and
// then that signing out in browser b leaves none.
func onlyThenSignedOut(t *testing.T, e *env, b *bridgetest.Browser, st store.Store, want string) {
	t.Helper()
	if l := liveSessions(t, st); len(l) != 1 || l[0].ID != want {
		t.Fatalf("after the replays, live sessions %+v, want only %s", l, want)
	}
	signOut(t, e, b)
	if n := len(liveSessions(t, st)); n != 0 {
		t.Errorf("after signing out in this browser, %d sessions live, want 0", n)
	}
}

// signOut ends the session of browser b through the end_session confirmation.
func signOut(t *testing.T, e *env, b *bridgetest.Browser) {
	t.Helper()
	out := b.Get(e.issuer + "/end_session")
	if !strings.Contains(out.Body, "Sign out?") {
		t.Fatalf("end_session: %d %.300s, want the confirmation", out.Status, out.Body)
	}
	b.Post(e.issuer+"/logout", out.Hidden())
}

// TestDoubleSubmitBeforeConsentLeavesNoOrphan: a login form for an app that asks for consent,
// submitted twice at once, writes no session before the member allows the app: the sign-in
// waits at the consent page without one, and the consent writes it with the request's
// completion (one transaction). So a double-click leaves no session nobody holds. Allowing twice
// at once completes the request once, with one session, the one this browser's cookie names; the
// consent form sent again once the request is finished is refused and writes nothing, and
// another browser cannot use it. Before, each submission of the login form wrote its own session
// and set it in the cookie: two live sessions, one held by no browser.
func TestDoubleSubmitBeforeConsentLeavesNoOrphan(t *testing.T) {
	orphanStores(t, func(t *testing.T, deps envDeps, st func() *pairedReads) {
		e := newEnvDeps(t, false, nil, deps)
		pr := st()
		third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
		b := e.browser()
		f := b.Get(third.AuthCodeURL("s")).Hidden()
		if f.Get("csrf") == "" || f.Get("id") == "" {
			t.Fatal("no login form")
		}
		form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
		var consent url.Values
		for _, a := range twice(t, pr, b, e.issuer+"/login", form) {
			if a.path != "/consent" || a.status != http.StatusOK {
				t.Fatalf("a login submission ended at %s (%d), want the consent page: %.300s", a.path, a.status, a.body)
			}
			consent = (&bridgetest.Page{Body: a.body}).Hidden()
		}
		if n := len(liveSessions(t, pr)); n != 0 {
			t.Fatalf("%d live sessions while the sign-in waits for consent, want 0", n)
		}
		consent.Set("decision", "allow")
		codes := 0
		for _, a := range twice(t, pr, b, e.issuer+"/consent", consent) {
			switch {
			case strings.HasPrefix(a.loc, e.rp+"/third") && strings.Contains(a.loc, "code="):
				codes++
			case a.status == http.StatusConflict:
			default:
				t.Errorf("a consent submission answered %d %q at %s, want the code or the already-used page", a.status, a.loc, a.path)
			}
		}
		if codes != 1 {
			t.Fatalf("%d consent submissions got a code, want 1", codes)
		}
		live := liveSessions(t, pr)
		if len(live) != 1 || len(live[0].Clients) != 1 || live[0].Clients[0] != "third" {
			t.Fatalf("live sessions after a double-submitted consent: %d (%+v), want 1 with [third]", len(live), live)
		}
		// The consent form sent again once the request is finished: refused, nothing written,
		// the browser's session untouched.
		consent.Set("csrf", b.Get(e.issuer+"/account").Hidden().Get("csrf")) // the browser's token now
		if p := b.Post(e.issuer+"/consent", consent); p.Status != http.StatusConflict || p.Location != "" {
			t.Errorf("consent replayed after the sign-in: %d %q, want 409", p.Status, p.Location)
		}
		// Another member's browser with the same form: refused (not its request, nor its cookie).
		other := e.browser()
		of := other.Get(third.AuthCodeURL("s")).Hidden()
		replay := url.Values{"csrf": {of.Get("csrf")}, "id": {consent.Get("id")}, "h": {consent.Get("h")}, "decision": {"allow"}}
		if p := other.Post(e.issuer+"/consent", replay); p.Location != "" || p.Status < 400 {
			t.Errorf("another browser completed the finished request: %d %q", p.Status, p.Location)
		}
		onlyThenSignedOut(t, e, b, pr, live[0].ID)
	})
}

// TestDoubleSubmitAccessDeniedLeavesOneSession: a login form for an app whose access rule
// refuses the member, submitted twice at once, answers both with the refusal and writes one
// session (the member did sign in; the session lets them on to other apps), the one the
// browser's cookie names: the first submission to answer the request with the refusal writes
// it, the other none. Before, each wrote its own and set it in the cookie: two live sessions.
func TestDoubleSubmitAccessDeniedLeavesOneSession(t *testing.T) {
	orphanStores(t, func(t *testing.T, deps envDeps, st func() *pairedReads) {
		e := newEnvDeps(t, false, nil, deps, func(c *bridge.Config) {
			c.Clients = append(c.Clients, config.Client{ID: "members", Name: "Members Area", Secret: webSecret, Trusted: true,
				RedirectURIs: []string{"http://127.0.0.1:9/app/members"}})
			c.Policy.Policies = map[string]policy.ClientPolicy{"members": {AccessRule: `member.is_current`}}
		})
		pr := st()
		lapse(e, "alice")
		members, _ := e.oauth("members", webSecret, "http://127.0.0.1:9/app/members", oauth2.AuthStyleInHeader)
		public, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		f := b.Get(members.AuthCodeURL("s")).Hidden()
		form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
		for _, a := range twice(t, pr, b, e.issuer+"/login", form) {
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "not available with your membership") {
				t.Errorf("a submission answered %d %q, want the refusal", a.status, a.loc)
			}
		}
		if n := len(liveSessions(t, pr)); n != 1 {
			t.Fatalf("%d live sessions after a double-submitted refused sign-in, want 1", n)
		}
		// The browser holds it: another app signs in without the form.
		if q := b.Get(public.AuthCodeURL("s")).Redirected(t); q.Get("code") == "" {
			t.Fatalf("the other app asked again: %v", q)
		}
		signOut(t, e, b)
		if n := len(liveSessions(t, pr)); n != 0 {
			t.Errorf("after signing out in this browser, %d sessions live, want 0", n)
		}
	})
}

// TestDoubleSecondFactorLeavesOneSession: a login form for a member with a second factor,
// submitted twice at once, opens two second-factor steps for the one request; both passed at
// once (two recovery codes) complete the request once with one session, written with the
// completion. Before, each step wrote its session before the request's compare-and-set (the
// login page reached afterwards): two live sessions, one held by no browser.
func TestDoubleSecondFactorLeavesOneSession(t *testing.T) {
	orphanStores(t, func(t *testing.T, deps envDeps, st func() *pairedReads) {
		e := newEnvDeps(t, false, nil, deps)
		pr := st()
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		enrol := e.browser()
		e.signIn(enrol, web.AuthCodeURL("s"), "alice", "alice-password")
		_, codes := enrolTOTP(t, e, enrol)
		signOut(t, e, enrol)
		if n := len(liveSessions(t, pr)); n != 0 {
			t.Fatalf("%d live sessions before the test, want 0", n)
		}

		b := e.browser()
		f := b.Get(web.AuthCodeURL("s")).Hidden()
		form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
		var steps []url.Values
		for _, a := range twice(t, pr, b, e.issuer+"/login", form) {
			if a.path != "/login/mfa" {
				t.Fatalf("a login submission ended at %s (%d), want the second-factor step", a.path, a.status)
			}
			steps = append(steps, (&bridgetest.Page{Body: a.body}).Hidden())
		}
		if steps[0].Get("c") == steps[1].Get("c") {
			t.Fatal("one step for both submissions")
		}
		pr.arm()
		out := make(chan *bridgetest.Page, 2)
		for i, s := range steps {
			go func() {
				out <- b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {s.Get("csrf")}, "c": {s.Get("c")}, "method": {"recovery"}, "code": {codes[i]}})
			}()
		}
		got := 0
		for range 2 {
			p := <-out
			if strings.Contains(p.Location, "code=") {
				got++
			}
		}
		if got != 1 {
			t.Errorf("%d step submissions got a code, want 1", got)
		}
		live := liveSessions(t, pr)
		if len(live) != 1 || len(live[0].Clients) != 1 {
			t.Fatalf("live sessions after two steps of one request: %d (%+v), want 1 with the app", len(live), live)
		}
		signOut(t, e, b)
		if n := len(liveSessions(t, pr)); n != 0 {
			t.Errorf("after signing out in this browser, %d sessions live, want 0", n)
		}
	})
}
