package bridge_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
)

func countRows(t *testing.T, e *env, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAnonymousWritesLimited: every endpoint that writes for an anonymous caller answers 429
// with Retry-After once a client IP used up its writes for the minute, and writes nothing more.
func TestAnonymousWritesLimited(t *testing.T) {
	const limit = 5
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	authorize := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, web.AuthCodeURL("s"), nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	post := func(path string, form url.Values) *http.Response {
		resp, _ := postForm(t, e.issuer+path, map[string]string(flatten(form)))
		return resp
	}
	cases := []struct {
		name  string
		call  func() *http.Response
		table string
	}{
		{"authorize", authorize, "auth_requests"},
		{"device_authorization", func() *http.Response {
			return post("/device_authorization", url.Values{"client_id": {"tv"}, "scope": {"openid"}})
		}, "device_authorizations"},
		{"handoff", func() *http.Response { return post("/handoff/imis", url.Values{"refresh_token": {"junk"}}) }, "handoff_tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range limit {
				if resp := c.call(); resp.StatusCode == http.StatusTooManyRequests {
					t.Fatalf("request %d refused", i+1)
				}
			}
			before := 0
			if c.table != "" {
				before = countRows(t, e, "SELECT COUNT(*) FROM "+c.table)
			}
			resp := c.call()
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("request %d: %d Retry-After %q", limit+1, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if c.table != "" {
				if after := countRows(t, e, "SELECT COUNT(*) FROM "+c.table); after != before {
					t.Fatalf("%s grew from %d to %d on a refused request", c.table, before, after)
				}
			}
		})
	}
	// One audit row per limited endpoint and minute, however many refusals.
	for range 3 {
		authorize()
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'ratelimit.refused' AND detail = 'authorize'"); n != 1 {
		t.Fatalf("%d ratelimit audit rows for authorize, want 1", n)
	}
}

// TestFailedSignInAuditLimited: failed sign-ins are not refused by the write limit (the throttle
// does that), but past it their audit rows are not written: one "ratelimit.refused" row
// stands for them.
func TestFailedSignInAuditLimited(t *testing.T) {
	const limit = 5
	e := newEnv(t, func(c *bridge.Config) {
		c.Throttle.AnonymousWrites, c.Throttle.PerLogin, c.Throttle.PerIP = limit, 100, 100
	})
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	f := b.Get(web.AuthCodeURL("s")).Hidden()
	if f.Get("csrf") == "" {
		t.Fatal("no login form (authorize limited?)")
	}
	before := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'login.failure'")
	for range limit + 3 {
		b.Post(e.issuer+"/login", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"nobody"}, "password": {"x"}})
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'login.failure'") - before; n > limit {
		t.Fatalf("%d audit rows of failed sign-ins, want at most %d", n, limit)
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'ratelimit.refused' AND detail = 'audit rows of failed sign-ins'"); n != 1 {
		t.Fatalf("%d ratelimit rows for audit rows", n)
	}

}

func flatten(v url.Values) map[string]string {
	m := map[string]string{}
	for k := range v {
		m[k] = v.Get(k)
	}
	return m
}

// TestAuthRequestBounded: an authorize request keeps only the scopes the client may ask for,
// refuses a flood of scopes, and an unfinished request expires after 10 minutes; an AMS token
// the AMS refused is remembered only for the replay window.
func TestAuthRequestBounded(t *testing.T) {
	e := newEnvWith(t, true)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	junk := make([]string, 0, 60)
	for i := range 60 {
		junk = append(junk, strings.Repeat("x", 100)+string(rune('a'+i%26))+strings.Repeat("y", i%20))
	}
	web.Scopes = append([]string{"openid", "profile", "openid"}, junk[:40]...)
	b := e.browser()
	p := b.Get(web.AuthCodeURL("s"))
	id := p.Hidden().Get("id") // the login form answers /authorize
	ar, err := e.store.AuthRequest(t.Context(), id)
	if err != nil {
		t.Fatalf("auth request: %v (%s %d)", err, p.URL, p.Status)
	}
	if strings.Join(ar.Scopes, " ") != "openid profile" {
		t.Fatalf("stored scopes %q", ar.Scopes)
	}
	if life := ar.ExpiresAt.Sub(ar.CreatedAt); life != 10*time.Minute {
		t.Fatalf("unfinished request lives %v", life)
	}
	before := countRows(t, e, "SELECT COUNT(*) FROM auth_requests")
	many := make([]string, 0, 1500)
	for i := range 1500 {
		many = append(many, "s"+strings.Repeat("z", i%50))
	}
	web.Scopes = many
	if p := b.Get(web.AuthCodeURL("s")); p.Hidden().Get("id") != "" {
		t.Fatal("1,500 scopes were accepted")
	}
	if after := countRows(t, e, "SELECT COUNT(*) FROM auth_requests"); after != before {
		t.Fatalf("a request with 1,500 scopes was stored")
	}

	resp, _ := postForm(t, e.issuer+"/handoff/imis", map[string]string{"refresh_token": "junk-token"})
	if resp.StatusCode < 400 {
		t.Fatalf("junk hand-off token: %d", resp.StatusCode)
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM handoff_tokens WHERE expires_at > ?", time.Now().Add(10*time.Minute).UnixNano()); n != 0 {
		t.Fatalf("%d refused AMS tokens kept beyond the replay window", n)
	}
	if n := countRows(t, e, "SELECT COUNT(*) FROM handoff_tokens"); n != 1 {
		t.Fatalf("%d hand-off guard rows, want 1 (the refused token, for its replay window)", n)
	}
}
