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

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// The sign-ins that session 9 (106240d) left writing their session before their request's
// compare-and-set: through an upstream provider, after a second-factor enrolment that shows
// recovery codes, with a passkey (TestBrowserPasskeyNoSessionBeforeRequest). Each now writes
// it with (or after winning) the completion.

// roundReads is a store whose next AuthRequest reads, once armed with n, meet in consecutive
// pairs: two requests that each read their sign-in request n/2 times before completing it (a
// double-click) both read it, each time, before either goes on.
type roundReads struct {
	store.Store
	mu      sync.Mutex
	left    int
	waiting chan struct{}
}

func (p *roundReads) arm(n int) {
	p.mu.Lock()
	p.left, p.waiting = n, nil
	p.mu.Unlock()
}

func (p *roundReads) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	p.mu.Lock()
	if p.left > 0 {
		p.left--
		if p.waiting == nil {
			w := make(chan struct{})
			p.waiting = w
			p.mu.Unlock()
			select {
			case <-w:
			case <-time.After(10 * time.Second):
			}
		} else {
			close(p.waiting)
			p.waiting = nil
			p.mu.Unlock()
		}
	} else {
		p.mu.Unlock()
	}
	return p.Store.AuthRequest(ctx, id)
}

// casStores runs f on SQLite and on PostgreSQL (skipped without a server), the store wrapped
// in roundReads.
func casStores(t *testing.T, f func(t *testing.T, deps envDeps, st func() *roundReads)) {
	wrappedStores(t, func(st store.Store) *roundReads { return &roundReads{Store: st} }, f)
}

// startUpstream posts the login page's upstream button of request id and returns the upstream's
// answer: the callback URL to the bridge (not followed).
func startUpstream(t *testing.T, f *federation, b *httpFed, hid url.Values) string {
	t.Helper()
	p := b.do(http.MethodPost, f.down.issuer+"/upstream/corp/start", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")}})
	if !strings.HasPrefix(p.Location, f.down.issuer+"/upstream/corp/callback") {
		t.Fatalf("the upstream did not answer from its session: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	return p.Location
}

// TestDoubleUpstreamSignInLeavesOneSession: two upstream sign-ins of one request (the login
// page's provider button used twice, in two tabs), whose answers come back at once, complete the
// request once with one session, written with the completion, and recorded as the upstream's
// (its back-channel logout ends it); an answer replayed afterwards and one taken to another
// browser are refused and write nothing. Before, each answer wrote its session before the
// request's compare-and-set: two live sessions, one held by no browser.
func TestDoubleUpstreamSignInLeavesOneSession(t *testing.T) {
	casStores(t, func(t *testing.T, deps envDeps, st func() *roundReads) {
		f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, deps)
		rr := st()
		ctx := context.Background()
		b := newHTTPFed(t, f)
		// The first sign-in links alice's upstream identity (by e-mail); then the bridge's
		// session is dropped (the upstream's stays).
		if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
			t.Fatalf("first upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
		}
		for _, s := range liveSessions(t, rr) {
			if err := rr.EndSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}

		web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
		hid := b.do(http.MethodGet, web.AuthCodeURL("s"), nil).Hidden()
		if hid.Get("id") == "" {
			t.Fatal("no login page")
		}
		callbacks := []string{startUpstream(t, f, b, hid), startUpstream(t, f, b, hid)}
		// Both answers read the request (once each: the copy that checks its prompt/max_age
		// goes on to the finish) before either completes it.
		rr.arm(2)
		out := make(chan *bridgetest.Page, 2)
		for _, u := range callbacks {
			go func() { out <- b.do(http.MethodGet, u, nil) }()
		}
		codes := 0
		for range 2 {
			var p *bridgetest.Page
			select {
			case p = <-out:
			case <-time.After(30 * time.Second):
				t.Fatal("an upstream answer did not come back")
			}
			switch {
			case strings.HasPrefix(p.Location, f.rp.srv.URL+"/callback") && strings.Contains(p.Location, "code="):
				codes++
			case p.Status == http.StatusConflict:
			default:
				t.Errorf("an upstream answer ended %d %q: %.300s", p.Status, p.Location, p.Body)
			}
		}
		if codes != 1 {
			t.Fatalf("%d upstream answers got a code, want 1", codes)
		}
		live := liveSessions(t, rr)
		if len(live) != 1 || len(live[0].Clients) != 1 {
			t.Fatalf("live sessions after two upstream answers of one request: %d (%+v), want 1 with the app", len(live), live)
		}
		if u, err := rr.UpstreamSession(ctx, live[0].ID); err != nil || u.Issuer != f.up.issuer {
			t.Fatalf("the session is not recorded as the upstream's: %+v %v", u, err)
		}
		// Replayed: refused, nothing written.
		if p := b.do(http.MethodGet, callbacks[0], nil); p.Status != http.StatusConflict && p.Status != http.StatusBadRequest {
			t.Errorf("a replayed upstream answer: %d %q", p.Status, p.Location)
		}
		// Another browser with an answer: refused.
		other := newHTTPFed(t, f)
		if p := other.do(http.MethodGet, callbacks[1], nil); p.Status < 400 || strings.HasPrefix(p.Location, f.rp.srv.URL) {
			t.Errorf("another browser used an upstream answer: %d %q", p.Status, p.Location)
		}
		if l := liveSessions(t, rr); len(l) != 1 || l[0].ID != live[0].ID {
			t.Fatalf("after the replays, live sessions %+v, want only %s", l, live[0].ID)
		}
	})
}

// TestUpstreamSignInHeldForConsent: an upstream sign-in for an app that asks for consent
// writes no session before the member allows the app (the consent hold carries the upstream
// sign-in); the consent writes it with the completion, recorded as the upstream's, so the
// upstream's back-channel logout ends it. Before, the session was written (and the cookie set)
// before the consent page.
func TestUpstreamSignInHeldForConsent(t *testing.T) {
	casStores(t, func(t *testing.T, deps envDeps, st func() *roundReads) {
		f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, deps, func(c *bridge.Config) {
			for i := range c.Clients {
				if c.Clients[i].ID == "browserapp" {
					c.Clients[i].Trusted = false
				}
			}
		})
		rr := st()
		ctx := context.Background()
		b := newHTTPFed(t, f)
		p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil)
		consent := p.Hidden()
		if p.URL.Path != "/consent" || consent.Get("h") == "" {
			t.Fatalf("the upstream sign-in did not wait at the consent page: %d %s %q %.300s", p.Status, p.URL, p.Location, p.Body)
		}
		if n := len(liveSessions(t, rr)); n != 0 {
			t.Fatalf("%d live sessions while the upstream sign-in waits for consent, want 0", n)
		}
		consent.Set("decision", "allow")
		p = b.do(http.MethodPost, f.down.issuer+"/consent", consent)
		if !strings.HasPrefix(p.Location, f.rp.srv.URL+"/callback") || !strings.Contains(p.Location, "code=") {
			t.Fatalf("consent: %d %q %.300s", p.Status, p.Location, p.Body)
		}
		live := liveSessions(t, rr)
		if len(live) != 1 {
			t.Fatalf("%d live sessions after the consent, want 1", len(live))
		}
		if u, err := rr.UpstreamSession(ctx, live[0].ID); err != nil || u.Issuer != f.up.issuer {
			t.Fatalf("the session is not recorded as the upstream's: %+v %v", u, err)
		}
		// The upstream signs the member out: its back-channel logout ends the bridge's session.
		hid := b.do(http.MethodGet, f.up.issuer+"/logout", nil).Hidden()
		if p := b.do(http.MethodPost, f.up.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}, "t": {hid.Get("t")}}); p.Status != http.StatusOK {
			t.Fatalf("upstream sign-out: %d %.300s", p.Status, p.Body)
		}
		if _, err := f.up.bridge.Shadow().DeliverDue(ctx); err != nil {
			t.Fatalf("deliver the upstream's logout token: %v", err)
		}
		if n := len(liveSessions(t, rr)); n != 0 {
			t.Fatalf("%d live sessions after the upstream's back-channel logout, want 0", n)
		}
	})
}

// TestUpstreamSessionAuthTimeIsTheProviders (OIDC Core 2, auth_time): a session opened through
// an upstream provider that answered from its own ten-minute-old session has the provider's
// auth_time, not the time its answer came back; so an app's max_age=60 is not answered by it
// (the login page asks), and the ID token's auth_time is the provider's. Before, the session's
// auth time was now: a max_age request got a code for a member who last authenticated ten
// minutes before.
func TestUpstreamSessionAuthTimeIsTheProviders(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("first upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	ageSessions(t, f.up, 10*time.Minute)
	// A second browser holding only the upstream's session (its cookies at the upstream).
	b2 := newHTTPFed(t, f)
	upURL, _ := url.Parse(f.up.issuer)
	b2.client.Jar.SetCookies(upURL, b.client.Jar.Cookies(upURL))
	if p := b2.do(http.MethodGet, b2.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("upstream sign-in from the upstream's session did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	sub := f.subject("alice")
	sessions, err := f.down.store.Sessions(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	newest := sessions[0]
	for _, s := range sessions {
		if s.CreatedAt.After(newest.CreatedAt) {
			newest = s
		}
	}
	if age := time.Since(newest.AuthTime); age < 9*time.Minute || age > 12*time.Minute {
		t.Fatalf("the session's auth time is %s ago, want the provider's (about 10 minutes ago)", age.Round(time.Second))
	}
	// max_age=60 from that browser: not answered from the session.
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	p := b2.do(http.MethodGet, web.AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "60")), nil)
	if strings.Contains(p.Location, "code=") || p.Hidden().Get("id") == "" {
		t.Fatalf("max_age=60 answered from a session whose member authenticated 10 minutes ago: %d %q", p.Status, p.Location)
	}
}

// TestEnrolmentWritesNoSessionBeforeRequest: a sign-in for an app that requires a second factor,
// by a member who has none, enrols at the step and is shown recovery codes; no session exists
// until the member goes on, and going on (followed twice at once: a double-click) completes the
// request once, with one session written with the completion. Following it again afterwards,
// or from another browser, is refused and writes nothing. Before, the enrolment wrote the
// session before the codes page (the login page completed the request afterwards).
func TestEnrolmentWritesNoSessionBeforeRequest(t *testing.T) {
	casStores(t, func(t *testing.T, deps envDeps, st func() *roundReads) {
		e := newEnvDeps(t, false, nil, deps, func(c *bridge.Config) {
			for i := range c.Clients {
				if c.Clients[i].ID == "web" {
					c.Clients[i].MFA = "required"
				}
			}
		})
		rr := st()
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		p := b.Login(b.Get(web.AuthCodeURL("s")), "alice", "alice-password")
		m := totpSecretRe.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no enrolment at the step: %d %s %.400s", p.Status, p.URL, p.Body)
		}
		done := submitStep(b, e, p, "enrol", totpCode(t, m[1], 0))
		next := continueRe.FindStringSubmatch(done.Body)
		if !recoveryCodeRe.MatchString(done.Body) || next == nil {
			t.Fatalf("no recovery codes and way on after enrolment: %d %.500s", done.Status, done.Body)
		}
		if n := len(liveSessions(t, rr)); n != 0 {
			t.Fatalf("%d live sessions while the recovery codes are shown, want 0 (the request is not completed yet)", n)
		}
		u := e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")
		rr.arm(2)
		out := make(chan *bridgetest.Page, 2)
		for range 2 {
			go func() { out <- b.Get(u) }()
		}
		codes := 0
		for range 2 {
			p := <-out
			switch {
			case strings.Contains(p.Location, "code="):
				codes++
			case p.Status == http.StatusConflict || p.Status == http.StatusBadRequest:
			default:
				t.Errorf("going on after enrolment: %d %q %.300s", p.Status, p.Location, p.Body)
			}
		}
		if codes != 1 {
			t.Fatalf("%d of two follows got a code, want 1", codes)
		}
		live := liveSessions(t, rr)
		if len(live) != 1 || len(live[0].Clients) != 1 {
			t.Fatalf("live sessions after going on twice: %d (%+v), want 1 with the app", len(live), live)
		}
		if p := b.Get(u); p.Status < 400 || p.Location != "" {
			t.Errorf("the way on followed again: %d %q", p.Status, p.Location)
		}
		other := e.browser()
		if p := other.Get(u); p.Status < 400 || p.Location != "" {
			t.Errorf("another browser followed the way on: %d %q", p.Status, p.Location)
		}
		onlyThenSignedOut(t, e, b, rr, live[0].ID)
	})
}

// TestDoubleHandoffLeavesOneSession: the AMS website's hand-off for a waiting request, posted
// twice at once (the SSO page open in two tabs, a reload), completes the request once with one
// session, written with the completion. Before, each hand-off wrote its session before the
// request's compare-and-set: two live sessions, one held by no browser.
func TestDoubleHandoffLeavesOneSession(t *testing.T) {
	casStores(t, func(t *testing.T, deps envDeps, st func() *roundReads) {
		e := newEnvDeps(t, true, nil, deps)
		rr := st()
		web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
		b := e.browser()
		f := b.Get(web.AuthCodeURL("st")).Hidden()
		if toAMS := b.Post(e.issuer+"/handoff/start", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}}); !strings.Contains(toAMS.URL.Path, "Login.aspx") {
			t.Fatalf("expected the AMS login page, got %s", toAMS.URL)
		}
		amsLogin(t, e, b, "alice", "alice-password")
		var forms []url.Values
		for range 2 {
			sso := b.Get(e.issuer + "/demo-ams/sso?client=ssobridge")
			tok := amsToken.FindStringSubmatch(sso.Body)
			if tok == nil {
				t.Fatalf("no iPart form: %.300s", sso.Body)
			}
			forms = append(forms, url.Values{"refresh_token": {tok[1]}})
		}
		rr.arm(2)
		out := make(chan *bridgetest.Page, 2)
		for _, form := range forms {
			go func() { out <- amsPost(t, e, b, form) }()
		}
		codes := 0
		for range 2 {
			var p *bridgetest.Page
			select {
			case p = <-out:
			case <-time.After(30 * time.Second):
				t.Fatal("a hand-off did not answer")
			}
			switch {
			case strings.Contains(p.Location, "code="):
				codes++
			case p.Status == http.StatusConflict || p.Status == http.StatusBadRequest:
			default:
				t.Errorf("a hand-off answered %d %q: %.300s", p.Status, p.Location, p.Body)
			}
		}
		if codes != 1 {
			t.Fatalf("%d hand-offs got a code, want 1", codes)
		}
		if live := liveSessions(t, rr); len(live) != 1 || len(live[0].Clients) != 1 {
			t.Fatalf("live sessions after two hand-offs of one request: %d (%+v), want 1 with the app", len(live), live)
		}
	})
}

// TestHandoffWithoutAppIsNotFresh (OIDC Core 3.1.2.1): a session the AMS website's hand-off
// opened with no app waiting (the member used the AMS website's SSO page) has the hand-off's
// time as its auth time, not when the member signed in to the AMS (the hand-off does not say:
// the refresh token's exchange tells only when it was exchanged). So it never answers an app's
// max_age or prompt=login, however recent: the login page asks for the password. An app
// without either is answered from it.
func TestHandoffWithoutAppIsNotFresh(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	amsLogin(t, e, b, "alice", "alice-password")
	iPart(t, e, b, b.Get(e.issuer+"/demo-ams/sso?client=ssobridge"))
	if b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatal("the hand-off opened no session")
	}
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "3600"), oauth2.SetAuthURLParam("max_age", "0"),
		oauth2.SetAuthURLParam("prompt", "login")} {
		p := b.Get(web.AuthCodeURL("s", opt))
		if strings.Contains(p.Location, "code=") || p.Hidden().Get("id") == "" {
			t.Errorf("a fresh-sign-in request was answered from the hand-off's session: %d %q", p.Status, p.Location)
		}
	}
	if q := b.Get(web.AuthCodeURL("s")).Redirected(t); q.Get("code") == "" {
		t.Fatalf("a plain request was not answered from the hand-off's session: %v", q)
	}
}
