package session

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// TestCookieHostPrefix: on https the cookie is __Host- prefixed (Secure, Path=/, no Domain),
// and a cookie set under the old name before the upgrade is carried over.
func TestCookieHostPrefix(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	old := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Lifetime: time.Hour}, nil, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://sso.example.org/", nil)
	s := old.get(req)
	s.Values["sid"] = "session-1"
	if err := s.Save(req, rec); err != nil {
		t.Fatal(err)
	}
	oldCookie := rec.Result().Cookies()[0]
	if oldCookie.Name != "ssobridge" {
		t.Fatalf("http cookie name %q", oldCookie.Name)
	}

	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: true, Lifetime: time.Hour}, nil, nil)
	req = httptest.NewRequest(http.MethodGet, "https://sso.example.org/", nil)
	req.AddCookie(oldCookie)
	s = cs.get(req)
	if str(s, "sid") != "session-1" {
		t.Fatalf("old cookie not carried over: %v", s.Values)
	}
	rec = httptest.NewRecorder()
	if err := s.Save(req, rec); err != nil {
		t.Fatal(err)
	}
	set := rec.Header().Get("Set-Cookie")
	if !strings.HasPrefix(set, "__Host-ssobridge=") || !strings.Contains(set, "Secure") || !strings.Contains(set, "Path=/") ||
		strings.Contains(strings.ToLower(set), "domain=") {
		t.Fatalf("https cookie: %s", set)
	}
}

// TestCSRF: a form passes only with the token of this browser's cookie, and signing in (Set)
// changes the browser id, so tokens handed out before no longer pass.
func TestCSRF(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	call := func(cookies []*http.Cookie, form url.Values, f func(echo.Context) error) (*httptest.ResponseRecorder, error) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		return rec, f(e.NewContext(req, rec))
	}
	var token string
	rec, err := call(nil, nil, func(c echo.Context) (err error) { token, err = cs.CSRFToken(c); return err })
	if err != nil {
		t.Fatal(err)
	}
	cookie := rec.Result().Cookies()
	rec, err = call(cookie, nil, func(c echo.Context) error { return cs.Set(c, "session-1") })
	if err != nil {
		t.Fatal(err)
	}
	signedIn := rec.Result().Cookies()
	var fresh string
	if _, err := call(signedIn, nil, func(c echo.Context) (err error) { fresh, err = cs.CSRFToken(c); return err }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		token   string
		ok      bool
	}{
		{"no cookie", nil, token, false},
		{"no token", cookie, "", false},
		{"wrong token", cookie, token + "x", false},
		{"right token", cookie, token, true},
		{"token from before sign-in", signedIn, token, false},
		{"token after sign-in", signedIn, fresh, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(tc.cookies, url.Values{"csrf": {tc.token}}, cs.CheckCSRF)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckCSRF: %v", err)
			}
		})
	}
}

// TestLoginPageOneCookie: a new browser's first page binds a request (RequestBrowser) and asks
// for the form's CSRF token: the response sets the cookie once, and that cookie carries both
// (the token passes with it and the binding is the same on the next request).
func TestLoginPageOneCookie(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	binding, err := cs.RequestBrowser(c)
	if err != nil {
		t.Fatal(err)
	}
	token, err := cs.CSRFToken(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
		t.Fatalf("%d Set-Cookie headers, want 1", n)
	}
	req = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range rec.Result().Cookies() {
		req.AddCookie(ck)
	}
	rec = httptest.NewRecorder()
	c = e.NewContext(req, rec)
	if err := cs.CheckCSRF(c); err != nil {
		t.Fatalf("CheckCSRF with the page's cookie: %v", err)
	}
	if again, err := cs.RequestBrowser(c); err != nil || again != binding {
		t.Fatalf("binding on the next request %q, %v; want %q", again, err, binding)
	}
	if n := len(rec.Header().Values("Set-Cookie")); n != 0 {
		t.Fatalf("the next request set the cookie %d times, want 0", n)
	}
}

// TestSessionKeyTimeOrdered checks the keys the store keeps sessions under: a new session's key
// sorts after an older one's (its time prefix, then the hash of the whole cookie id, never the
// id itself), and the ids of sessions made before NewID keep the key they were stored under.
func TestSessionKeyTimeOrdered(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	id1, k1 := NewID(t0)
	id2, k2 := NewID(t0.Add(time.Millisecond))
	if k1 >= k2 {
		t.Fatalf("keys out of time order: %q >= %q", k1, k2)
	}
	for _, c := range []struct{ id, key string }{{id1, k1}, {id2, k2}} {
		if c.key != c.id[:16]+sso.HashToken(c.id) || Key(c.id) != c.key {
			t.Fatalf("Key(%q) = %q, NewID's key %q", c.id, Key(c.id), c.key)
		}
		if strings.Contains(c.key, c.id[16:]) {
			t.Fatalf("key %q holds the cookie's secret", c.key)
		}
	}
	old := sso.RandomToken()
	if Key(old) != sso.HashToken(old) {
		t.Fatalf("an older session's key changed: %q", Key(old))
	}
	for _, odd := range []string{"", strings.Repeat("x", 59), "ABCDEF0123456789" + sso.RandomToken()} {
		if Key(odd) != sso.HashToken(odd) {
			t.Fatalf("Key(%q) = %q, want the plain hash", odd, Key(odd))
		}
	}
}
