package bridge_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// ageSessions moves the auth_time of every session in e's store back by d (as if the member
// had signed in that long ago).
func ageSessions(t *testing.T, e *env, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE sessions SET auth_time = auth_time - ? WHERE auth_time > 0`, d.Nanoseconds()); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamFreshSignIn: an app's request with prompt=login or max_age is not answered from
// the member's live session at an upstream provider (OpenID Connect Core 3.1.2.1): both are
// forwarded to the provider, and the auth_time of its ID token is checked when it comes back,
// so a provider that ignores them (simulated: its authorization URL without them) gets a
// "sign in again" page and no code reaches the app. The honest path (the provider asks for the
// password again) still signs the member in.
func TestUpstreamFreshSignIn(t *testing.T) {
	f := newFederation(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
	b := newHTTPFed(t, f)
	if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("first upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	noFollow := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	web, _ := f.down.oauth("browserapp", webSecret, f.rp.srv.URL+"/callback", oauth2.AuthStyleInHeader)
	for _, tc := range []struct {
		name           string
		param          oauth2.AuthCodeOption
		prompt, maxAge string
	}{
		{"prompt=login", oauth2.SetAuthURLParam("prompt", "login"), "login", ""},
		{"max_age=60", oauth2.SetAuthURLParam("max_age", "60"), "", "60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Both sessions (the bridge's and the upstream's) are ten minutes old.
			ageSessions(t, f.down, 10*time.Minute)
			ageSessions(t, f.up, 10*time.Minute)
			login := b.do(http.MethodGet, web.AuthCodeURL("s", tc.param), nil)
			hid := login.Hidden()
			if hid.Get("id") == "" {
				t.Fatalf("no login page at the bridge: %d %s %.400s", login.Status, login.URL, login.Body)
			}
			start := func() *url.URL {
				resp, err := noFollow.PostForm(f.down.issuer+"/upstream/corp/start", url.Values{"csrf": {hid.Get("csrf")}, "id": {hid.Get("id")}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				u, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || !strings.HasPrefix(u.String(), f.up.issuer) {
					t.Fatalf("start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				return u
			}
			authz := start()
			if q := authz.Query(); q.Get("prompt") != tc.prompt || q.Get("max_age") != tc.maxAge {
				t.Fatalf("the provider was asked with prompt %q max_age %q, want %q %q: %s", q.Get("prompt"), q.Get("max_age"),
					tc.prompt, tc.maxAge, authz)
			}
			// A provider that ignores them answers from its ten-minute-old session.
			p := b.do(http.MethodGet, withQuery(authz, map[string]string{"prompt": "", "max_age": ""}), nil)
			if !strings.HasPrefix(p.Location, f.down.issuer+"/upstream/corp/callback") {
				t.Fatalf("the upstream did not answer from its session: %d %q %.300s", p.Status, p.Location, p.Body)
			}
			p = b.do(http.MethodGet, p.Location, nil)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Please sign in again") || !strings.Contains(p.Body, "/login?id=") ||
				strings.HasPrefix(p.Location, f.rp.srv.URL) {
				t.Fatalf("stale upstream sign-in: %d %q %.600s", p.Status, p.Location, p.Body)
			}
			// The provider as asked: it wants the password again, and then the app gets its code.
			p = b.do(http.MethodGet, start().String(), nil)
			uh := p.Hidden()
			if p.Location != "" || uh.Get("id") == "" || !strings.HasPrefix(p.URL.String(), f.up.issuer) {
				t.Fatalf("the upstream did not ask for the password: %d %s %q %.300s", p.Status, p.URL, p.Location, p.Body)
			}
			p = b.do(http.MethodPost, f.up.issuer+"/login", url.Values{"csrf": {uh.Get("csrf")}, "id": {uh.Get("id")},
				"login": {"alice"}, "password": {"alice-password"}})
			if !strings.HasPrefix(p.Location, f.down.issuer+"/upstream/corp/callback") {
				t.Fatalf("upstream login: %d %q %.300s", p.Status, p.Location, p.Body)
			}
			if p = b.do(http.MethodGet, p.Location, nil); !strings.HasPrefix(p.Location, f.rp.srv.URL+"/callback") ||
				!strings.Contains(p.Location, "code=") {
				t.Fatalf("fresh upstream sign-in did not reach the app: %d %q %.600s", p.Status, p.Location, p.Body)
			}
		})
	}
}
