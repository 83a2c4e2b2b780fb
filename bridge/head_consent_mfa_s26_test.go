package bridge_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestHeadConsentAndStep (brief s26 D item 4, session 24's Q5; RFC 9110 9.3.2): the consent page
// and the second-factor step page answer HEAD as their GET without the body: the same status
// and fields (but Date, X-Request-Id and Set-Cookie; a Location by its path and query names),
// the GET's Content-Length when one is sent, no Set-Cookie, and no store write, in each of the
// states where their GET writes: a request not bound yet (the GET binds it), one already used
// or another browser's (the GET writes an audit row), an enrolment not begun (the GET begins
// one: the HEAD sends no Content-Length, which only the new secret's page determines), a
// continuation (the GET passes it and finishes the sign-in with a 303 whose Location only that
// write makes: the HEAD is refused, 405 with Allow, session 27 Q, review s26 R2-7; it answered
// a 303 without Location before, a redirect to nowhere for a HEAD-following client). The HEAD
// comes first; the GET after it shows the write the HEAD left out. Before session 26, both
// routes answered HEAD 405.
func TestHeadConsentAndStep(t *testing.T) {
	e := newEnv(t, otherRequiresMFA)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	third, _ := e.oauth("third", otherSecret, e.rp+"/third", oauth2.AuthStyleInHeader)
	writes := func() int64 { return e.store.WriteStats().Writes }
	// raw is one request of b's, redirects not followed.
	raw := func(t *testing.T, b *bridgetest.Browser, method, target string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		c := &http.Client{Jar: b.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		text, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(text)
	}
	signedIn := func(t *testing.T, login string) *bridgetest.Browser {
		b := e.browser()
		e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), login, login+"-password")
		return b
	}
	// stepURL signs login in for other with the password in a new browser and returns the
	// second-factor step's address, not followed.
	stepURL := func(t *testing.T, login string) (*bridgetest.Browser, string) {
		b := e.browser()
		f := b.Get(other.AuthCodeURL("s", oidc.Nonce("n"))).Hidden()
		res, _ := raw(t, b, http.MethodPost, e.issuer+"/login", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")},
			"login": {login}, "password": {login + "-password"}})
		loc := res.Header.Get("Location")
		if !strings.HasPrefix(loc, "/login/mfa?c=") {
			t.Fatalf("the password did not lead to the step: %d %q", res.StatusCode, loc)
		}
		return b, e.issuer + loc
	}
	// bob has an authenticator app: his step asks for it (a page that only reads).
	enrolTOTP(t, e, signedIn(t, "bob"))

	for _, tc := range []struct {
		name string
		// setup returns the browser and the address it asks HEAD and then GET of.
		setup func(t *testing.T) (*bridgetest.Browser, string)
		// getWrites: the GET writes (what the HEAD must leave out).
		getWrites bool
		// headRefused: the HEAD is answered 405 (with Allow), as the GET's answer needs its write.
		headRefused bool
	}{
		{"consent page", func(t *testing.T) (*bridgetest.Browser, string) {
			b := signedIn(t, "alice")
			p := b.Get(third.AuthCodeURL("t", oidc.Nonce("n")))
			if p.URL.Path != "/consent" {
				t.Fatalf("no consent page: %d at %s", p.Status, p.URL)
			}
			return b, p.URL.String()
		}, false, false},
		{"consent page, request not bound yet", func(t *testing.T) (*bridgetest.Browser, string) {
			// A request POSTed to /authorize is stored unbound (Authorize: the login page's
			// GET binds it, as the consent page's does).
			b := signedIn(t, "alice")
			au, _ := url.Parse(third.AuthCodeURL("t", oidc.Nonce("n")))
			res, _ := raw(t, e.browser(), http.MethodPost, e.issuer+"/authorize", au.Query())
			u, err := url.Parse(res.Header.Get("Location"))
			if err != nil || u.Query().Get("id") == "" {
				t.Fatalf("POST /authorize: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			return b, e.issuer + "/consent?id=" + url.QueryEscape(u.Query().Get("id"))
		}, true, false},
		{"consent page, another browser's request", func(t *testing.T) (*bridgetest.Browser, string) {
			p := signedIn(t, "alice").Get(third.AuthCodeURL("t", oidc.Nonce("n")))
			if p.URL.Path != "/consent" {
				t.Fatalf("no consent page: %d at %s", p.Status, p.URL)
			}
			return signedIn(t, "alice"), p.URL.String()
		}, true, false},
		{"consent page, request used", func(t *testing.T) (*bridgetest.Browser, string) {
			b := signedIn(t, "alice")
			p := b.Get(third.AuthCodeURL("t", oidc.Nonce("n")))
			f := p.Hidden()
			if q := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "decision": {"allow"}}); !strings.Contains(q.Location, "code=") {
				t.Fatalf("consent: %d %q", q.Status, q.Location)
			}
			return b, p.URL.String()
		}, true, false},
		{"step page, a factor to type", func(t *testing.T) (*bridgetest.Browser, string) {
			b, u := stepURL(t, "bob")
			// The step's GET once (its request bound on the way): reading it again writes nothing.
			if p := b.Get(u); !strings.Contains(p.Body, `name="method" value="totp"`) && p.Status != http.StatusOK {
				t.Fatalf("bob's step: %d %.300s", p.Status, p.Body)
			}
			return b, u
		}, false, false},
		{"step page, enrolment not begun", func(t *testing.T) (*bridgetest.Browser, string) {
			return stepURL(t, "alice")
		}, true, false},
		{"step page, continuation", func(t *testing.T) (*bridgetest.Browser, string) {
			b, u := stepURL(t, "alice") // last: alice has a factor after it
			step := b.Get(u)
			m := totpSecretRe.FindStringSubmatch(step.Body)
			if m == nil {
				t.Fatalf("no enrolment on alice's step: %d %.400s", step.Status, step.Body)
			}
			done := submitStep(b, e, step, "enrol", totpCode(t, m[1], 0))
			next := continueRe.FindStringSubmatch(done.Body)
			if next == nil {
				t.Fatalf("no continuation after the enrolment: %d %.400s", done.Status, done.Body)
			}
			return b, e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, target := tc.setup(t)
			before := writes()
			head, hbody := raw(t, b, http.MethodHead, target, nil)
			if n := writes() - before; n != 0 {
				t.Errorf("HEAD: %d store writes", n)
			}
			if hbody != "" {
				t.Errorf("HEAD: a body %.200q", hbody)
			}
			if sc := head.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("HEAD: Set-Cookie %q", sc)
			}
			before = writes()
			get, gbody := raw(t, b, http.MethodGet, target, nil)
			if wrote := writes() != before; wrote != tc.getWrites {
				t.Errorf("the GET after it wrote %t, want %t (the case proves nothing otherwise)", wrote, tc.getWrites)
			}
			if tc.headRefused {
				if head.StatusCode != http.StatusMethodNotAllowed || head.Header.Get("Allow") != "GET, POST" || head.Header.Get("Location") != "" {
					t.Fatalf("HEAD %d, Allow %q, Location %q; want 405 with Allow: GET, POST (RFC 9110 15.5.6), no Location",
						head.StatusCode, head.Header.Get("Allow"), head.Header.Get("Location"))
				}
				if get.StatusCode != http.StatusSeeOther || get.Header.Get("Location") == "" {
					t.Fatalf("the GET after it: %d, Location %q; want the 303 that passes the continuation", get.StatusCode, get.Header.Get("Location"))
				}
				return
			}
			if head.StatusCode != get.StatusCode {
				t.Fatalf("HEAD %d, GET %d (%.300q)", head.StatusCode, get.StatusCode, gbody)
			}
			if head.ContentLength >= 0 && head.ContentLength != get.ContentLength {
				t.Errorf("HEAD Content-Length %d, GET's %d", head.ContentLength, get.ContentLength)
			}
			for _, k := range headerNames(head.Header, get.Header) {
				switch k {
				case "Date", "X-Request-Id", "Set-Cookie", "Content-Length":
					continue
				case "Location":
					if hl, gl := redirectShape(head.Header.Get(k)), redirectShape(get.Header.Get(k)); hl != gl {
						t.Errorf("HEAD Location %q, GET's %q", head.Header.Get(k), get.Header.Get(k))
					}
					continue
				}
				if hv, gv := head.Header.Values(k), get.Header.Values(k); !slices.Equal(hv, gv) {
					t.Errorf("HEAD %s %q, GET's %q", k, hv, gv)
				}
			}
		})
	}
}
