package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	webupstream "github.com/ssobridge/ssobridge/bridge/web/upstream"
	"github.com/ssobridge/ssobridge/legacy"
)

// federation is a bridge (down) whose members may sign in through an upstream OpenID provider
// that is itself a second bridge (up, with its own test directory, on the host name localhost
// so the browser keeps the two bridges' cookies apart), and an app (rp) of the bridge.
type federation struct {
	t        testing.TB
	up, down *env
	rp       *relyingParty
}

const upstreamClientSecret = "upstream-secret-0123456789abcdef0123456"

// newFederation starts the upstream bridge (email_verified as verified says) and the bridge
// with one upstream provider "corp" (provider adjusts it; downMutate the bridge's config).
func newFederation(t *testing.T, verified bool, provider func(*upstream.ProviderConfig), downMutate ...func(*bridge.Config)) *federation {
	t.Helper()
	return newFederationDeps(t, verified, provider, envDeps{}, downMutate...)
}

// newFederationDeps is newFederation with the bridge's (down's) deps (its store).
func newFederationDeps(t *testing.T, verified bool, provider func(*upstream.ProviderConfig), deps envDeps, downMutate ...func(*bridge.Config)) *federation {
	t.Helper()
	downLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downIssuer := "http://" + downLn.Addr().String()
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, upPort, _ := net.SplitHostPort(upLn.Addr().String())
	up := newEnvAt(t, upLn, "http://localhost:"+upPort, false, nil, envDeps{}, func(c *bridge.Config) {
		c.Policy.EmailVerified = verified
		c.Clients = append(c.Clients, config.Client{ID: "association", Name: "Association sign-in", Secret: upstreamClientSecret,
			Trusted: true, RedirectURIs: []string{webupstream.CallbackURL(downIssuer, "corp"), webupstream.CallbackURL(downIssuer, "other")},
			BackchannelLogoutURI: webupstream.BackchannelURL(downIssuer, "corp"), AllowInternalTargets: true, PostLogoutRedirectURIs: []string{downIssuer + "/logout/return"}})
	})
	pc := upstream.ProviderConfig{Name: "corp", DisplayName: "Corp ID", Issuer: up.issuer, ClientID: "association",
		ClientSecret: upstreamClientSecret}
	if provider != nil {
		provider(&pc)
	}
	rp, addClient := newRelyingParty(t)
	mutate := append([]func(*bridge.Config){addClient, func(c *bridge.Config) {
		c.UpstreamProviders = append(c.UpstreamProviders, pc)
		if pc.LinkByEmail {
			c.Policy.EmailVerified = true // link_by_email needs it (X19-10's inbound twin)
		}
	}}, downMutate...)
	down := newEnvAt(t, downLn, downIssuer, false, nil, deps, mutate...)
	rp.connect(down)
	return &federation{t: t, up: up, down: down, rp: rp}
}

// subject is the bridge's subject of a member of its directory.
func (f *federation) subject(login string) string {
	f.t.Helper()
	m, err := f.down.dir.MemberByLogin(context.Background(), login)
	if err != nil {
		f.t.Fatal(err)
	}
	return identitySubject(f.t, f.down, m.Key)
}

func identitySubject(t testing.TB, e *env, key string) string {
	t.Helper()
	subs, err := e.store.SubjectByMemberKey(context.Background(), key)
	if err != nil {
		t.Fatalf("subject of %s: %v", key, err)
	}
	return subs.Subject
}

func (f *federation) links(login string) int {
	f.t.Helper()
	sub, err := f.down.store.SubjectByMemberKey(context.Background(), mustMember(f.t, f.down, login).Key)
	if err != nil {
		return 0 // never signed in: no subject, no link
	}
	l, err := f.down.store.UpstreamLinks(context.Background(), sub.Subject)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(l)
}

func mustMember(t testing.TB, e *env, login string) *legacy.Member {
	t.Helper()
	m, err := e.dir.MemberByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// upstreamSignIn drives Chromium from the app through the bridge's "Continue with Corp ID"
// button and the upstream's login form (when it asks), and waits for sel.
func (f *federation) upstreamSignIn(t *testing.T, ctx context.Context, login, password, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#upstream-corp")),
	); err != nil {
		t.Fatalf("to the bridge's login page: %v", err)
	}
	loginPage, _ := chromedp.Run(ctx, chromedp.Location())
	if err := chromedp.Do(ctx, chromedp.Click(css("#upstream-corp"))); err != nil {
		t.Fatalf("click the upstream button: %v", err)
	}
	// The click navigates away (to the upstream, or straight back through it).
	loc := loginPage
	for loc == loginPage && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		loc, _ = chromedp.Run(ctx, chromedp.Location())
	}
	// The browser may still be going through redirects: wait for a finished document that is
	// either the upstream's login form or the page the test waits for, polling by script (a
	// node handle taken from a document that a redirect replaces is gone: "Could not find node
	// with given id").
	if err := pollSelector(ctx, "#login, "+sel); err != nil {
		t.Fatalf("after the upstream button: %v", err)
	}
	loc, _ = chromedp.Run(ctx, chromedp.Location())
	if strings.HasPrefix(loc, f.up.issuer+"/login") || strings.HasPrefix(loc, f.up.issuer+"/authorize") {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(css("#login"), login),
			chromedp.SendKeys(css("#password"), password),
			chromedp.Click(css("button[type=submit].primary")),
		); err != nil {
			t.Fatalf("upstream login form: %v", err)
		}
		for strings.HasPrefix(loc, f.up.issuer) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			loc, _ = chromedp.Run(ctx, chromedp.Location())
		}
	}
	if err := pollSelector(ctx, sel); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(css("main")))
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("waiting for %s at %s: %v: %.500s", sel, loc, err, body)
	}
}

// pollSelector waits until the current document has finished loading and has an element
// matching sel, asking by script so that a navigation in between only costs a retry.
func pollSelector(ctx context.Context, sel string) error {
	js := fmt.Sprintf(`document.readyState === "complete" && document.querySelector(%q) !== null`, sel)
	var lastErr error
	for ctx.Err() == nil {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return nil
		}
		lastErr = err
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s never appeared: %w (last: %v)", sel, ctx.Err(), lastErr)
}

// signOutDown signs the browser out of the bridge (not of the upstream).
func (f *federation) signOutDown(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.down.issuer+"/logout"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#signed-out")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

// TestBrowserUpstreamLinkByPassword: an unlinked upstream identity is linked after the AMS
// password, once; then the upstream alone signs the member in (amr fed); the account page lists
// the link and removes it, after which the upstream asks for the password again.
func TestBrowserUpstreamLinkByPassword(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	f := newFederation(t, false, nil)
	ctx := newChrome(t)

	f.upstreamSignIn(t, ctx, "alice", "alice-password", "#link-submit")
	if got := text(t, ctx, "main"); !strings.Contains(got, "Corp ID") || !strings.Contains(got, "alice@example.org") {
		t.Fatalf("link page: %q", got)
	}
	// A wrong password links nothing.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "wrong"),
		chromedp.Click(css("#link-submit")),
		chromedp.WaitVisible(css("#login-error")),
	); err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	if n := f.links("alice"); n != 0 {
		t.Fatalf("%d links after a wrong password", n)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#password"), "alice-password"), // the login is filled in again
		chromedp.Click(css("#link-submit")),
		chromedp.WaitVisible(css("#result")),
	); err != nil {
		t.Fatalf("link by password: %v", err)
	}
	sub := f.subject("alice")
	if got := text(t, ctx, "#result"); got != "signed in: Alice Archer ("+sub+")" {
		t.Fatalf("result %q, want alice's subject %s", got, sub)
	}
	if n := f.links("alice"); n != 1 {
		t.Fatalf("%d links after linking, want 1", n)
	}

	// Signed out of the bridge only: the upstream's session signs alice in, with no password.
	f.signOutDown(t, ctx)
	f.upstreamSignIn(t, ctx, "", "", "#result")
	if got := text(t, ctx, "#result"); got != "signed in: Alice Archer ("+sub+")" {
		t.Fatalf("upstream sign-in: %q", got)
	}
	sessions, err := f.down.store.Sessions(context.Background(), sub)
	if err != nil || len(sessions) != 1 || strings.Join(sessions[0].AMR, " ") != webupstream.AMR {
		t.Fatalf("sessions after upstream sign-in: %v %+v", err, sessions)
	}

	// The account page lists the link and removes it.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.down.issuer+"/account"),
		chromedp.WaitVisible(css("#upstream-linked")),
	); err != nil {
		t.Fatalf("account page: %v", err)
	}
	if got := text(t, ctx, "#upstream-linked"); !strings.Contains(got, "Corp ID") {
		t.Fatalf("linked identities: %q", got)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(css("#upstream-linked button[value=unlink]")),
		chromedp.WaitVisible(css("#upstream-notice")),
	); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if n := f.links("alice"); n != 0 {
		t.Fatalf("%d links after unlinking", n)
	}
	f.signOutDown(t, ctx)
	f.upstreamSignIn(t, ctx, "", "", "#link-submit") // unlinked: the password is asked again
}

// TestBrowserUpstreamLinkByEmail: automatic linking by e-mail happens only when the provider
// allows it, the upstream says the address is verified and exactly one active member has it.
func TestBrowserUpstreamLinkByEmail(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	for _, tc := range []struct {
		name        string
		verified    bool
		linkByEmail bool
		ambiguous   bool
		linked      bool
	}{
		{"verified, on", true, true, false, true},
		{"verified, off", true, false, false, false},
		{"unverified, on", false, true, false, false},
		{"ambiguous, on", true, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederation(t, tc.verified, func(p *upstream.ProviderConfig) { p.LinkByEmail = tc.linkByEmail })
			if tc.ambiguous {
				f.down.dir.Add(&legacy.Member{Key: "44444444-4444-4444-4444-444444444444", MemberID: "1004", Login: "alice2",
					Email: "ALICE@example.org", FullName: "Alice Again", MemberType: "REG", MemberRecord: true, Status: "A",
					Standing: legacy.Standing{Approved: true}}, "alice2-password")
			}
			ctx := newChrome(t)
			want := "#link-submit"
			if tc.linked {
				want = "#result"
			} else if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
				t.Fatal(err)
			}
			f.upstreamSignIn(t, ctx, "alice", "alice-password", want)
			if !tc.linked { // the link page, on a phone (issue 18 item 6)
				fitsWidth(t, ctx, "upstream link page")
			}
			if got := f.links("alice"); (got == 1) != tc.linked {
				t.Fatalf("%d links, want linked %v", got, tc.linked)
			}
			if tc.ambiguous {
				if n := f.links("alice2"); n != 0 {
					t.Fatalf("the other member got %d links", n)
				}
			}
		})
	}
}

// TestBrowserUpstreamLapsedMemberRefused: after an upstream sign-in the AMS still decides: a
// lapsed member does not get into an app that requires a current membership, an expired AMS
// account does not sign in at all.
func TestBrowserUpstreamLapsedMemberRefused(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, func(c *bridge.Config) {
		c.Provisioning = map[string]provisioning.Target{"browserapp": {RequireCurrent: true, AllowInternal: true,
			Settings: &webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}}
	})
	f.down.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -2, 0) })
	ctx := newChrome(t)
	f.upstreamSignIn(t, ctx, "alice", "alice-password", "h1")
	if got := text(t, ctx, "main"); !strings.Contains(got, "not available with your membership") {
		t.Fatalf("lapsed member's page: %q", got)
	}
	// The AMS account expires: the linked identity no longer signs in.
	f.down.dir.Update("alice", func(m *legacy.Member) {
		m.PaidThrough = time.Now().AddDate(1, 0, 0)
		m.Standing.ExpirationDate = time.Now().Add(-time.Hour)
	})
	f.signOutDown(t, ctx)
	f.upstreamSignIn(t, ctx, "", "", "h1")
	if got := text(t, ctx, "main"); !strings.Contains(got, "not active at the moment") {
		t.Fatalf("expired account's page: %q", got)
	}
	if s, _ := f.down.store.Sessions(context.Background(), f.subject("alice")); len(s) != 0 {
		t.Fatalf("an expired account got a session: %+v", s)
	}
}

// httpFed is a cookie-keeping HTTP client for the federation that stops at the bridge's
// upstream callback (so tests can tamper with it) and at redirects to the app.
type httpFed struct {
	t      testing.TB
	client *http.Client
}

func newHTTPFed(t testing.TB, f *federation) *httpFed {
	jar, _ := cookiejar.New(nil)
	h := &httpFed{t: t}
	rpHost := strings.TrimPrefix(f.rp.srv.URL, "http://")
	h.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/upstream/") || req.URL.Host == rpHost || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return h
}

func (h *httpFed) do(method, u string, form url.Values) *bridgetest.Page {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &bridgetest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(b), Location: resp.Header.Get("Location"), Header: resp.Header}
}

// toCallback runs a sign-in from the app to the moment the upstream redirects back to the
// bridge, and returns that callback URL (not yet followed).
func (h *httpFed) toCallback(f *federation, provider string) *url.URL {
	h.t.Helper()
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	p := h.do(http.MethodGet, web.AuthCodeURL("s"), nil)
	hid := p.Hidden()
	p = h.do(http.MethodPost, f.down.issuer+"/upstream/"+provider+"/start", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")}})
	if p.Location == "" {
		hid = p.Hidden()
		if hid.Get("id") == "" {
			h.t.Fatalf("no upstream login page: %d %s %.500s", p.Status, p.URL, p.Body)
		}
		p = h.do(http.MethodPost, f.up.issuer+"/login", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")},
			"login": {"alice"}, "password": {"alice-password"}})
	}
	u, err := url.Parse(p.Location)
	if err != nil || !strings.HasPrefix(p.Location, f.down.issuer+"/upstream/") {
		h.t.Fatalf("no callback redirect: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	return u
}

func withQuery(u *url.URL, set map[string]string) string {
	c := *u
	q := c.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// TestUpstreamCallbackTampering: the callback is taken once, by the browser that started the
// sign-in, with its own state, at the provider's own callback, with the provider's iss; every
// other one gets a clear page and links nothing.
func TestUpstreamCallbackTampering(t *testing.T) {
	f := newFederation(t, true, nil, func(c *bridge.Config) {
		c.UpstreamProviders = append(c.UpstreamProviders, upstream.ProviderConfig{Name: "other", DisplayName: "Other ID",
			Issuer: c.UpstreamProviders[0].Issuer, ClientID: "association", ClientSecret: upstreamClientSecret})
	})
	b := newHTTPFed(t, f)
	cb := b.toCallback(f, "corp")
	if cb.Query().Get("iss") != f.up.issuer || cb.Query().Get("state") == "" || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s: want the upstream's iss (RFC 9207) and a state", cb)
	}
	mixUp := func(cb *url.URL) string {
		u := *cb
		u.Path = strings.Replace(cb.Path, "/corp/", "/other/", 1)
		return u.String()
	}
	for _, tc := range []struct {
		name   string
		url    func(cb *url.URL) string
		status int
		words  string
	}{
		{"tampered state", func(cb *url.URL) string {
			return withQuery(cb, map[string]string{"state": "x" + cb.Query().Get("state")})
		},
			http.StatusBadRequest, "expired"},
		{"no state", func(cb *url.URL) string { return withQuery(cb, map[string]string{"state": ""}) }, http.StatusBadRequest, "expired"},
		{"wrong iss", func(cb *url.URL) string { return withQuery(cb, map[string]string{"iss": "http://evil.example"}) },
			http.StatusBadGateway, "cannot be trusted"},
		{"no iss", func(cb *url.URL) string { return withQuery(cb, map[string]string{"iss": ""}) }, http.StatusBadGateway, "cannot be trusted"},
		{"other provider's callback", mixUp, http.StatusBadGateway, "cannot be trusted"},
		{"tampered code", func(cb *url.URL) string {
			return withQuery(cb, map[string]string{"code": "x" + cb.Query().Get("code")})
		},
			http.StatusBadRequest, "could not be checked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.do(http.MethodGet, tc.url(b.toCallback(f, "corp")), nil)
			if p.Status != tc.status || !strings.Contains(p.Body, tc.words) {
				t.Fatalf("status %d, want %d with %q: %.600s", p.Status, tc.status, tc.words, p.Body)
			}
		})
	}
	// A callback is taken once, in its browser.
	other := newHTTPFed(t, f)
	if p := other.do(http.MethodGet, cb.String(), nil); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "expired") {
		t.Fatalf("another browser: %d %.300s", p.Status, p.Body)
	}
	if p := b.do(http.MethodGet, cb.String(), nil); p.Status != http.StatusOK || !strings.Contains(p.Body, "Link your account") {
		t.Fatalf("the callback: %d %.600s", p.Status, p.Body)
	}
	if p := b.do(http.MethodGet, cb.String(), nil); p.Status != http.StatusConflict || !strings.Contains(p.Body, "already used") {
		t.Fatalf("replayed callback: %d %.600s", p.Status, p.Body)
	}
	// Denied consent at the upstream.
	cb = b.toCallback(f, "corp")
	p := b.do(http.MethodGet, withQuery(cb, map[string]string{"code": "", "error": "access_denied"}), nil)
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "did not sign in with Corp ID") || !strings.Contains(p.Body, "/login?id=") {
		t.Fatalf("denied: %d %.600s", p.Status, p.Body)
	}
	if n := f.links("alice"); n != 0 {
		t.Fatalf("%d links after tampering", n)
	}
}

// TestUpstreamWrongIssuer: a provider whose discovery document names another issuer than the
// configured one is refused with a clear page (and nothing is sent to it).
func TestUpstreamWrongIssuer(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) {
		p.Issuer = strings.Replace(p.Issuer, "localhost", "127.0.0.1", 1) // the same server, another issuer name
	})
	b := newHTTPFed(t, f)
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	hid := b.do(http.MethodGet, web.AuthCodeURL("s"), nil).Hidden()
	p := b.do(http.MethodPost, f.down.issuer+"/upstream/corp/start", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")}})
	if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "cannot be trusted") || p.Location != "" {
		t.Fatalf("wrong issuer: %d %q %.600s", p.Status, p.Location, p.Body)
	}
}

// TestUpstreamBackchannelLogout: signing out at the upstream ends the bridge session its
// sign-in started (the upstream's logout token, delivered by its outbox); a replayed or forged
// token is refused.
func TestUpstreamBackchannelLogout(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	cb := b.toCallback(f, "corp")
	if p := b.do(http.MethodGet, cb.String(), nil); p.Location == "" || !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	sub := f.subject("alice")
	ctx := context.Background()
	if s, _ := f.down.store.Sessions(ctx, sub); len(s) != 1 {
		t.Fatalf("%d bridge sessions after the upstream sign-in", len(s))
	}
	// Sign out at the upstream.
	hid := b.do(http.MethodGet, f.up.issuer+"/logout", nil).Hidden()
	if p := b.do(http.MethodPost, f.up.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}, "t": {hid.Get("t")}}); p.Status != http.StatusOK {
		t.Fatalf("upstream sign-out: %d %.300s", p.Status, p.Body)
	}
	if _, err := f.up.bridge.Shadow().DeliverDue(ctx); err != nil {
		t.Fatalf("deliver the upstream's logout token: %v", err)
	}
	if s, _ := f.down.store.Sessions(ctx, sub); len(s) != 0 {
		t.Fatalf("bridge sessions after the upstream's back-channel logout: %+v", s)
	}
	for _, tc := range []struct{ name, token string }{
		{"garbage", "not-a-jwt"},
		{"an ID token", idTokenOf(t, f)},
	} {
		resp, body := postForm(t, f.down.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": tc.token})
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Fatalf("%s: %d %v", tc.name, resp.StatusCode, body)
		}
	}
}

// idTokenOf is an ID token the upstream issued to the bridge's client: signed by the right
// keys for the right audience, but not a logout token.
func idTokenOf(t *testing.T, f *federation) string {
	t.Helper()
	cfg, _ := f.up.oauth("association", upstreamClientSecret, webupstream.CallbackURL(f.down.issuer, "corp"), oauth2.AuthStyleInHeader)
	b := f.up.browser()
	code := f.up.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password")
	tok, err := cfg.Exchange(f.up.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Extra("id_token").(string)
}

// TestUpstreamRPInitiatedLogout: with end_session on, signing out at the bridge goes on to the
// upstream provider's end_session_endpoint and comes back to the bridge's signed-out page; both
// sessions are ended. Without it, the upstream session is left alone.
func TestUpstreamRPInitiatedLogout(t *testing.T) {
	for _, endSession := range []bool{true, false} {
		t.Run(fmt.Sprintf("end_session %v", endSession), func(t *testing.T) {
			f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail, p.EndSession = true, endSession })
			b := newHTTPFed(t, f)
			if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
				t.Fatalf("upstream sign-in: %d %q", p.Status, p.Location)
			}
			ctx := context.Background()
			upSub := identitySubject(t, f.up, mustMember(t, f.up, "alice").Key)
			if s, _ := f.up.store.Sessions(ctx, upSub); len(s) != 1 {
				t.Fatalf("%d upstream sessions", len(s))
			}
			hid := b.do(http.MethodGet, f.down.issuer+"/logout", nil).Hidden()
			p := b.do(http.MethodPost, f.down.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}})
			if !endSession {
				if p.Status != http.StatusOK || !strings.Contains(p.Body, "signed-out") {
					t.Fatalf("sign-out: %d %q %.300s", p.Status, p.Location, p.Body)
				}
				if s, _ := f.up.store.Sessions(ctx, upSub); len(s) != 1 {
					t.Fatalf("%d upstream sessions after signing out at the bridge only", len(s))
				}
				return
			}
			// Through the upstream's end_session (it asks to confirm: no id_token_hint).
			if !strings.Contains(p.URL.String(), f.up.issuer+"/logout") {
				t.Fatalf("sign-out did not go on to the upstream: %d at %s", p.Status, p.URL)
			}
			hid = p.Hidden()
			p = b.do(http.MethodPost, f.up.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}, "t": {hid.Get("t")}})
			if p.Status != http.StatusOK || !strings.HasPrefix(p.URL.String(), f.down.issuer+"/logout/done") {
				t.Fatalf("back from the upstream: %d at %s %.300s", p.Status, p.URL, p.Body)
			}
			if s, _ := f.up.store.Sessions(ctx, upSub); len(s) != 0 {
				t.Fatalf("upstream sessions after sign-out: %+v", s)
			}
			if s, _ := f.down.store.Sessions(ctx, f.subject("alice")); len(s) != 0 {
				t.Fatalf("bridge sessions after sign-out: %+v", s)
			}
		})
	}
}

// TestUpstreamLinkFromAccountPage: a signed-in member links an upstream identity from the
// account page (no password asked); a link whose member signed out before the callback links
// nothing; an identity linked to one member cannot be linked to another.
func TestUpstreamLinkFromAccountPage(t *testing.T) {
	f := newFederation(t, false, nil)
	b := newHTTPFed(t, f)
	// Sign in with the password at the bridge.
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	hid := b.do(http.MethodGet, web.AuthCodeURL("s"), nil).Hidden()
	if p := b.do(http.MethodPost, f.down.issuer+"/login", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}}); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("password sign-in: %d %q", p.Status, p.Location)
	}
	link := func(b *httpFed) *url.URL {
		t.Helper()
		acct := b.do(http.MethodGet, f.down.issuer+"/account", nil)
		if !strings.Contains(acct.Body, `id="link-corp"`) {
			t.Fatalf("no link button on the account page: %d %.400s", acct.Status, acct.Body)
		}
		p := b.do(http.MethodPost, f.down.issuer+"/account/upstream", url.Values{"csrf": {acct.Hidden().Get("csrf")},
			"action": {"link"}, "provider": {"corp"}})
		if p.Location == "" {
			hid := p.Hidden()
			p = b.do(http.MethodPost, f.up.issuer+"/login", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")},
				"login": {"alice"}, "password": {"alice-password"}})
		}
		u, err := url.Parse(p.Location)
		if err != nil || !strings.HasPrefix(p.Location, f.down.issuer+"/upstream/corp/callback") {
			t.Fatalf("no callback: %d %q", p.Status, p.Location)
		}
		return u
	}
	// Signed out before the callback: nothing is linked.
	cb := link(b)
	hid = b.do(http.MethodGet, f.down.issuer+"/logout", nil).Hidden()
	b.do(http.MethodPost, f.down.issuer+"/logout", url.Values{"csrf": {hid.Get("csrf")}})
	if p := b.do(http.MethodGet, cb.String(), nil); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "no longer signed in") {
		t.Fatalf("callback after signing out: %d %.400s", p.Status, p.Body)
	}
	if n := f.links("alice"); n != 0 {
		t.Fatalf("%d links after a link whose member signed out", n)
	}
	// Signed in again (through the password), the link is made without asking for it.
	hid = b.do(http.MethodGet, web.AuthCodeURL("s"), nil).Hidden()
	b.do(http.MethodPost, f.down.issuer+"/login", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")},
		"login": {"alice"}, "password": {"alice-password"}})
	p := b.do(http.MethodGet, link(b).String(), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.URL.String(), "/account?done=linked") || !strings.Contains(p.Body, "Corp ID") {
		t.Fatalf("link from the account page: %d at %s %.400s", p.Status, p.URL, p.Body)
	}
	if n := f.links("alice"); n != 1 {
		t.Fatalf("%d links after linking from the account page", n)
	}
	// Bob, signed in in another browser, cannot link alice's upstream identity to himself.
	bob := newHTTPFed(t, f)
	hid = bob.do(http.MethodGet, web.AuthCodeURL("s"), nil).Hidden()
	bob.do(http.MethodPost, f.down.issuer+"/login", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")},
		"login": {"bob"}, "password": {"bob-password"}})
	if p := bob.do(http.MethodGet, link(bob).String(), nil); p.Status != http.StatusConflict || !strings.Contains(p.Body, "linked to another member") {
		t.Fatalf("a second member links the same identity: %d %.400s", p.Status, p.Body)
	}
	if n := f.links("bob"); n != 0 {
		t.Fatalf("bob got %d links", n)
	}
}

// mainText is the page's main text.
func mainText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return text(t, ctx, "main")
}

// TestBrowserUpstreamReplayTamperAndLogout: in Chromium, the callback's page (the link form is
// served at the callback URL) opened again is refused as used, with a tampered state as
// expired; after linking, signing out at the upstream ends the bridge session through the
// upstream's back-channel logout, so the app's next sign-in shows the login page again.
func TestBrowserUpstreamReplayTamperAndLogout(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	f := newFederation(t, false, nil)
	ctx := newChrome(t)
	f.upstreamSignIn(t, ctx, "alice", "alice-password", "#link-submit")
	cbStr, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(cbStr, f.down.issuer+"/upstream/corp/callback?") {
		t.Fatalf("the link page is not at the callback: %q %v", cbStr, err)
	}
	cb, _ := url.Parse(cbStr)
	if err := chromedp.Do(ctx, chromedp.Navigate(withQuery(cb, map[string]string{"state": "x" + cb.Query().Get("state")})),
		chromedp.WaitVisible(css("h1"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, ctx); !strings.Contains(got, "This sign-in has expired") {
		t.Fatalf("tampered state: %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(cbStr), chromedp.WaitVisible(css("h1"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, ctx); !strings.Contains(got, "already used") {
		t.Fatalf("replayed callback: %q", got)
	}
	// A fresh sign-in links alice; then she signs out at the upstream.
	f.upstreamSignIn(t, ctx, "", "", "#link-submit")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#login"), "alice"),
		chromedp.SendKeys(css("#password"), "alice-password"),
		chromedp.Click(css("#link-submit")),
		chromedp.WaitVisible(css("#result")),
		chromedp.Navigate(f.up.issuer+"/logout"),
		chromedp.Click(css("button[type=submit].primary")),
		chromedp.WaitVisible(css("#signed-out")),
	); err != nil {
		t.Fatalf("link, then sign out at the upstream: %v", err)
	}
	if _, err := f.up.bridge.Shadow().DeliverDue(context.Background()); err != nil {
		t.Fatalf("deliver the upstream's logout token: %v", err)
	}
	if s, _ := f.down.store.Sessions(context.Background(), f.subject("alice")); len(s) != 0 {
		t.Fatalf("bridge sessions after the upstream's back-channel logout: %+v", s)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(f.rp.srv.URL+"/start"), chromedp.WaitVisible(css("#upstream-corp"))); err != nil {
		t.Fatalf("the app's next sign-in does not ask again: %v", err)
	}
}

// TestBrowserUpstreamWrongIssuer: the button of a provider whose discovery names another
// issuer leads to a clear page, not to the provider.
func TestBrowserUpstreamWrongIssuer(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	f := newFederation(t, true, func(p *upstream.ProviderConfig) {
		p.Issuer = strings.Replace(p.Issuer, "localhost", "127.0.0.1", 1)
	})
	ctx := newChrome(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.rp.srv.URL+"/start"),
		chromedp.WaitVisible(css("#upstream-corp")),
		chromedp.Click(css("#upstream-corp")),
		chromedp.WaitVisible(css("main a[href^='/login?id=']")),
	); err != nil {
		t.Fatalf("wrong issuer: %v", err)
	}
	if got := mainText(t, ctx); !strings.Contains(got, "This sign-in cannot be trusted") || !strings.Contains(got, "Sign in another way") {
		t.Fatalf("wrong issuer page: %q", got)
	}
}
