package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// bindCounter is a store that counts the writes that make and bind sign-in requests.
type bindCounter struct {
	store.Store
	create, claim, bind, completeSignIn atomic.Int64
}

func (b *bindCounter) CreateAuthRequest(ctx context.Context, r *sso.AuthRequest) error {
	b.create.Add(1)
	return b.Store.CreateAuthRequest(ctx, r)
}

func (b *bindCounter) ClaimAuthRequest(ctx context.Context, id, browser string) (*sso.AuthRequest, error) {
	b.claim.Add(1)
	return b.Store.ClaimAuthRequest(ctx, id, browser)
}

func (b *bindCounter) BindAuthRequest(ctx context.Context, id, browser string) error {
	b.bind.Add(1)
	return b.Store.BindAuthRequest(ctx, id, browser)
}

func (b *bindCounter) CompleteSignIn(ctx context.Context, in *store.SignIn) error {
	b.completeSignIn.Add(1)
	return b.Store.CompleteSignIn(ctx, in)
}

func (b *bindCounter) counts() [4]int64 {
	return [4]int64{b.create.Load(), b.claim.Load(), b.bind.Load(), b.completeSignIn.Load()}
}

// requestCounter counts the requests a test browser sends.
type requestCounter struct {
	next  http.RoundTripper
	paths []string
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.paths = append(r.paths, req.Method+" "+req.URL.Path)
	return r.next.RoundTrip(req)
}

func countRequests(b *bridgetest.Browser) *requestCounter {
	rc := &requestCounter{next: http.DefaultTransport}
	b.Client.Transport = rc
	return rc
}

// TestLoginFormAtAuthorize: /authorize answers a new sign-in with the login form itself,
// the request stored already bound to the browser (its cookie set on that response): a
// password sign-in is two requests to the bridge (the form, its post) and writes the request
// once and its completion once, with no binding write. The page is never cached, sends no
// referrer, and posts to /login; the form works only in the browser that asked /authorize.
func TestLoginFormAtAuthorize(t *testing.T) {
	var bc *bindCounter
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bc = &bindCounter{Store: st}
		return bc
	}})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)

	b := e.browser()
	rc := countRequests(b)
	before := bc.counts()
	p := b.Get(web.AuthCodeURL("s"))
	f := p.Hidden()
	if p.Status != http.StatusOK || p.URL.Path != "/authorize" || f.Get("id") == "" || f.Get("csrf") == "" ||
		!strings.Contains(p.Body, `<form method="post" action="/login"`) {
		t.Fatalf("authorize answered %d at %s: %.300s", p.Status, p.URL, p.Body)
	}
	h := p.Header
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Content-Security-Policy") == "" || len(h.Values("Set-Cookie")) != 1 {
		t.Fatalf("login page headers %v", h)
	}
	ar, err := bc.AuthRequest(t.Context(), f.Get("id"))
	if err != nil || ar.Browser == "" || ar.Done {
		t.Fatalf("stored request %+v %v, want pending and bound", ar, err)
	}

	// Another browser, with a form of its own, posts this request: refused, nothing written.
	other := e.browser()
	own := other.Get(web.AuthCodeURL("o")).Hidden()
	q := other.Post(e.issuer+"/login", url.Values{"csrf": {own.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}})
	if q.Location != "" || q.Status != http.StatusForbidden || !strings.Contains(q.Body, "another browser") {
		t.Fatalf("another browser's post: %d %q", q.Status, q.Location)
	}

	bcBefore := bc.counts()
	code := b.Login(p, "alice", "alice-password").Redirected(t).Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	got := bc.counts()
	for i := range got {
		got[i] -= bcBefore[i]
	}
	if got != [4]int64{0, 0, 0, 1} {
		t.Errorf("form post writes [CreateAuthRequest ClaimAuthRequest BindAuthRequest CompleteSignIn] = %v, want [0 0 0 1]", got)
	}
	// The whole sign-in: [GET /authorize, POST /login], one request made, none claimed or bound.
	if want := []string{"GET /authorize", "POST /login"}; strings.Join(rc.paths, ",") != strings.Join(want, ",") {
		t.Errorf("the sign-in's requests to the bridge: %v, want %v", rc.paths, want)
	}
	all := bc.counts()
	for i := range all {
		all[i] -= before[i]
	}
	if all != [4]int64{2, 0, 0, 1} { // two requests made: this browser's and the other's
		t.Errorf("writes [CreateAuthRequest ClaimAuthRequest BindAuthRequest CompleteSignIn] = %v, want [2 0 0 1]", all)
	}
	// Completed once: the same form again is refused.
	csrf := b.Get(web.AuthCodeURL("x", oauth2.SetAuthURLParam("prompt", "login"))).Hidden().Get("csrf") // the sign-in renewed it
	again := b.Post(e.issuer+"/login", url.Values{"csrf": {csrf}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}})
	if again.Location != "" || !strings.Contains(again.Body, "already used") {
		t.Fatalf("the form posted again: %d %q", again.Status, again.Location)
	}
	if _, err := web.Exchange(e.ctx(), code); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorizeCookieOnlyWithRequest: the browser-binding cookie is set only on a response
// that stored a sign-in request bound with it: an authorize request op refuses (unknown
// client, unregistered redirect_uri, a refusal sent to the client) and a login page naming no
// request set none (session 6 left the login page setting it for any id).
func TestAuthorizeCookieOnlyWithRequest(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	unknown := *web
	unknown.ClientID = "no-such-app"
	badRedirect := *web
	badRedirect.RedirectURL = "http://127.0.0.1:9/elsewhere"
	for _, tc := range []struct {
		name, url string
	}{
		{"unknown client", unknown.AuthCodeURL("s")},
		{"unregistered redirect_uri", badRedirect.AuthCodeURL("s")},
		{"refused to the client", web.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "token"))},
		{"login page of no request", e.issuer + "/login?id=" + sso.RandomToken()},
		{"login page without id", e.issuer + "/login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			p := b.Get(tc.url)
			if p.Status == http.StatusOK || p.Hidden().Get("id") != "" {
				t.Fatalf("answered %d with a form", p.Status)
			}
			if c := p.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Fatalf("%d answer set cookies %v", p.Status, c)
			}
		})
	}
	// A POST to /authorize (it may come from another site, without the browser's cookie) goes
	// to the login page as before, which binds the request with the cookie it carries.
	b := e.browser()
	p := b.Post(e.issuer+"/authorize", url.Values{"client_id": {"web"}, "redirect_uri": {web.RedirectURL},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"p"}})
	if p.URL.Path != "/login" || p.Hidden().Get("id") == "" {
		t.Fatalf("POST /authorize answered %d at %s", p.Status, p.URL)
	}
	if q := b.Login(p, "alice", "alice-password").Redirected(t); q.Get("code") == "" || q.Get("state") != "p" {
		t.Fatalf("after POST /authorize: %v", q)
	}
}
