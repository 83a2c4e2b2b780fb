package bridge_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/legacy"
)

// headRefused are the routes whose GET writes what a HEAD must not (RFC 9110 9.3.2: HEAD is
// GET without the body; a HEAD's answer is followed by nobody, so it must not leave a write
// behind): they answer HEAD 405 with Allow naming GET. Each is explained where it is mounted.
var headRefused = []string{
	"/authorize",               // stores the authorization request (protocol.go)
	"/authorize/callback",      // completes the request: its code
	"/login",                   // binds the request to the browser; may finish the sign-in
	"/device/done",             // records the member's decision on the device's request
	"/logout/ams",              // ends the session when the AMS website asks
	"/upstream/:name/callback", // spends the upstream state, signs in
	"/handoff/continue",        // redeems the hand-off ticket
	"/saml/sso",                // stores the SAML request
	"/saml/continue",           // issues the assertion
	"/saml/start/:sp",          // starts an IdP-initiated sign-in
	"/saml/slo",                // signs out
	"/saml/slo/next",           // goes on with the sign-out chain
}

// TestHeadAnswersAsGet: every route the public router answers GET on (found by walking its
// routes, as TestEveryRouteNamesItsMethods does: a new route cannot escape) answers HEAD as
// its GET, with the same status and headers (but Date, X-Request-Id and Set-Cookie; a
// redirect's Location compared by its path and query names, as a sealed ticket differs per
// answer) and Content-Length, without a body, without a cookie and without a store write; or
// it is one of headRefused, which answer HEAD 405 naming GET and write nothing either. Each
// route is asked by a browser without a cookie and by one signed in (a new one per route, as
// a GET may sign it out). Before this session, /, /account, /account/security,
// /account/signout-all, /device and /playground answered HEAD 405.
func TestHeadAnswersAsGet(t *testing.T) {
	lms := newSAMLSP(t)
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	webApp, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInParams)
	writes := func() int64 { return e.store.WriteStats().Writes }
	// The count sees a GET's write: an authorization request stored.
	before := writes()
	if p := e.browser().Get(webApp.AuthCodeURL("s")); p.Status != http.StatusOK {
		t.Fatalf("authorize: %d", p.Status)
	}
	if writes() == before {
		t.Fatal("the write count did not see /authorize's write")
	}

	do := func(t *testing.T, b *bridgetest.Browser, method, target string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, e.issuer+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Jar: b.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	signedIn := func(t *testing.T) *bridgetest.Browser {
		b := e.browser()
		e.signIn(b, webApp.AuthCodeURL("s"), "alice", "alice-password")
		return b
	}
	refused := map[string]bool{}
	for _, p := range headRefused {
		refused[p] = true
	}
	seen := map[string]bool{}
	heads := 0
	for _, r := range e.bridge.Routes() {
		if seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		var path []string
		for seg := range strings.SplitSeq(r.Path, "/") {
			if strings.HasPrefix(seg, ":") || seg == "*" {
				seg = "x"
			}
			path = append(path, seg)
		}
		target := strings.Join(path, "/")
		for _, who := range []string{"anonymous", "signed in"} {
			t.Run(strings.TrimPrefix(r.Path, "/")+"/"+who, func(t *testing.T) {
				b := e.browser()
				if who == "signed in" {
					b = signedIn(t)
				}
				before := writes()
				head, hbody := do(t, b, http.MethodHead, target)
				// /readyz too: a HEAD reads its watermark, only GET writes it (session 25).
				if n := writes() - before; n != 0 {
					t.Errorf("HEAD %s: %d store writes", target, n)
				}
				if hbody != "" {
					t.Errorf("HEAD %s: a body: %.200q", target, hbody)
				}
				if sc := head.Header.Values("Set-Cookie"); len(sc) > 0 {
					t.Errorf("HEAD %s: Set-Cookie %q", target, sc)
				}
				get, gbody := do(t, b, http.MethodGet, target)
				if get.StatusCode == http.StatusMethodNotAllowed {
					if head.StatusCode != http.StatusMethodNotAllowed {
						t.Errorf("HEAD %s: %d where GET is refused", target, head.StatusCode)
					}
					return // a route without GET: TestEveryRouteNamesItsMethods
				}
				if refused[r.Path] {
					if head.StatusCode != http.StatusMethodNotAllowed || !slices.Contains(strings.Split(head.Header.Get("Allow"), ", "), http.MethodGet) ||
						strings.Contains(head.Header.Get("Allow"), http.MethodHead) {
						t.Errorf("HEAD %s (refused on purpose): %d, Allow %q; want 405 naming GET, not HEAD", target, head.StatusCode, head.Header.Get("Allow"))
					}
					return
				}
				heads++
				if head.StatusCode != get.StatusCode {
					t.Fatalf("HEAD %s: %d, GET %d (%.300q)", target, head.StatusCode, get.StatusCode, gbody)
				}
				// RFC 9110 8.6: a HEAD's Content-Length, when sent, is the GET's (net/http sends
				// none for a HEAD whose handler wrote nothing, a redirect: it cannot tell).
				if head.ContentLength >= 0 && head.ContentLength != get.ContentLength {
					t.Errorf("HEAD %s: Content-Length %d, GET's %d", target, head.ContentLength, get.ContentLength)
				}
				for _, k := range headerNames(head.Header, get.Header) {
					switch k {
					case "Date", "X-Request-Id", "Set-Cookie", "Content-Length":
						continue
					case "Location":
						if hl, gl := redirectShape(head.Header.Get(k)), redirectShape(get.Header.Get(k)); hl != gl {
							t.Errorf("HEAD %s: Location %q, GET's %q", target, head.Header.Get(k), get.Header.Get(k))
						}
						continue
					}
					hv, gv := head.Header.Values(k), get.Header.Values(k)
					if k == "Content-Security-Policy" { // a CSP nonce is new per answer (the demo AMS's pages)
						hv, gv = slices.Clone(hv), slices.Clone(gv)
						for i := range hv {
							hv[i] = cspNonce.ReplaceAllString(hv[i], "'nonce-'")
						}
						for i := range gv {
							gv[i] = cspNonce.ReplaceAllString(gv[i], "'nonce-'")
						}
					}
					if !slices.Equal(hv, gv) {
						t.Errorf("HEAD %s: %s %q, GET's %q", target, k, hv, gv)
					}
				}
			})
		}
	}
	for _, p := range append(slices.Clone(headRefused), "/", "/account", "/account/security", "/account/signout-all", "/device", "/playground", "/static/*") {
		if !seen[p] {
			t.Errorf("the walk did not reach %s", p)
		}
	}
	if heads < 20 {
		t.Errorf("only %d HEADs compared", heads)
	}
}

var cspNonce = regexp.MustCompile(`'nonce-[^']*'`)

// headerNames are the names of a's and b's fields, sorted, each once.
func headerNames(a, b http.Header) []string {
	var names []string
	for k := range a {
		names = append(names, k)
	}
	for k := range b {
		names = append(names, k)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// redirectShape is a Location's path and the names of its query's parameters.
func redirectShape(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	var names []string
	for k := range u.Query() {
		names = append(names, k)
	}
	slices.Sort(names)
	return u.Scheme + "://" + u.Host + u.Path + "?" + strings.Join(names, "&")
}

// TestHeadAccountEndsNothing: the account page of a member who may no longer sign in says so
// (403) and its GET ends the session; a HEAD answers the same 403 and ends nothing.
func TestHeadAccountEndsNothing(t *testing.T) {
	e := newEnv(t)
	webApp, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInParams)
	b := e.browser()
	e.signIn(b, webApp.AuthCodeURL("s"), "alice", "alice-password")
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	req, _ := http.NewRequest(http.MethodHead, e.issuer+"/account", nil)
	res, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("HEAD /account: %d, want 403", res.StatusCode)
	}
	if n := sessionsOf(t, e, "alice"); n != 1 {
		t.Fatalf("after HEAD: %d sessions, want 1 (a HEAD ends nothing)", n)
	}
	if p := b.Get(e.issuer + "/account"); p.Status != http.StatusForbidden {
		t.Fatalf("GET /account: %d, want 403", p.Status)
	}
	if n := sessionsOf(t, e, "alice"); n != 0 {
		t.Fatalf("after GET: %d sessions, want 0", n)
	}
}

// TestHeadAccountOpensNoStepUp: the account page of a session that lacks the factor its
// member enrolled since (in another browser) sends its GET to the second factor, 303 to a
// challenge the GET stores; a HEAD stores none and is refused, 405 with Allow (it answered
// 303 without the Location, a redirect to nowhere, until review s27 R6-2).
func TestHeadAccountOpensNoStepUp(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInParams)
	old, other := e.browser(), e.browser()
	e.signIn(old, cfg.AuthCodeURL("s"), "alice", "alice-password")
	e.signIn(other, cfg.AuthCodeURL("s"), "alice", "alice-password")
	enrolTOTP(t, e, other) // old's session now lacks the factor alice uses
	ask := func(method string) *http.Response {
		req, _ := http.NewRequest(method, e.issuer+"/account", nil)
		c := &http.Client{Jar: old.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	before := e.store.WriteStats().Writes
	head := ask(http.MethodHead)
	if n := e.store.WriteStats().Writes - before; n != 0 {
		t.Errorf("HEAD /account: %d store writes, want none", n)
	}
	if head.StatusCode != http.StatusMethodNotAllowed || head.Header.Get("Location") != "" || len(head.Header.Values("Set-Cookie")) > 0 {
		t.Errorf("HEAD /account: %d, Location %q, Set-Cookie %q; want 405 without either", head.StatusCode,
			head.Header.Get("Location"), head.Header.Values("Set-Cookie"))
	}
	get := ask(http.MethodGet)
	if get.StatusCode != http.StatusSeeOther || !strings.HasPrefix(get.Header.Get("Location"), "/login/mfa?") {
		t.Fatalf("GET /account: %d, Location %q; want 303 to the step-up", get.StatusCode, get.Header.Get("Location"))
	}
	if e.store.WriteStats().Writes == before {
		t.Error("GET /account stored no challenge")
	}
}
