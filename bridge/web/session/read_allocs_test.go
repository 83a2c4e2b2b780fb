package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// maxCookieReadAllocs bounds TestCookieReadAllocs: a sign-in post's cookie read (the cookie
// parsed, opened and its values decoded, the session and its values map) and its CSRF check
// (the form parsed: parseForm): 24. 39 when gorilla's registry kept the session in the
// request's context, 35 with net/http's parse of the form (18 of them; session 22).
const maxCookieReadAllocs = 25

// TestCookieReadAllocs: a request's cookie is opened once, into a session kept in the echo
// context, without gorilla's per-request registry (which copied the request to put itself in
// its context).
func TestCookieReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: true, Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "https://sso.example.org/authorize", nil), rec)
	if _, err := cs.RequestBrowser(c); err != nil {
		t.Fatal(err)
	}
	token, err := cs.CSRFToken(c)
	if err != nil {
		t.Fatal(err)
	}
	cookie := lastCookie(t, rec, cookieNameHost)
	// The requests and echo contexts are made before counting: only the cookie's work counts.
	const runs = 50
	ctxs := make([]echo.Context, runs+1)
	for i := range ctxs {
		req := httptest.NewRequest(http.MethodPost, "https://sso.example.org/login", strings.NewReader("csrf="+token+"&id=x&login=a&password=b"))
		req = req.WithContext(context.WithValue(req.Context(), struct{}{}, i))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		ctxs[i] = e.NewContext(req, httptest.NewRecorder())
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		c := ctxs[i]
		i++
		if err := cs.CheckCSRF(c); err != nil {
			t.Fatal(err)
		}
		if _, fresh := cs.PeekRequestBrowser(c); fresh {
			t.Fatal("the binding was not in the cookie")
		}
	})
	t.Logf("%.0f allocations", allocs)
	if allocs > maxCookieReadAllocs {
		t.Errorf("a sign-in post's cookie read and CSRF check: %.0f allocations, want at most %d", allocs, maxCookieReadAllocs)
	}
}

// BenchmarkSignInPostCookie is TestCookieReadAllocs' work: a sign-in post's cookie read and CSRF
// check (the form parsed), on requests made before the timer.
func BenchmarkSignInPostCookie(b *testing.B) {
	k := func(c byte) []byte { return []byte(strings.Repeat(string(rune(c)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: true, Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "https://sso.example.org/authorize", nil), rec)
	if _, err := cs.RequestBrowser(c); err != nil {
		b.Fatal(err)
	}
	token, err := cs.CSRFToken(c)
	if err != nil {
		b.Fatal(err)
	}
	var cookie *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		cookie = ck
	}
	ctxs := make([]echo.Context, b.N)
	for i := range ctxs {
		req := httptest.NewRequest(http.MethodPost, "https://sso.example.org/login", strings.NewReader("csrf="+token+"&id=18eebe84236765dalLaiWcHH6Md5Xz3K4G5FaM771vWkYYnMjSdHOqM4IMA&login=alice&password=alice-demo-1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		ctxs[i] = e.NewContext(req, httptest.NewRecorder())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		signInPostCookie(b, cs, ctxs[i])
	}
}

// signInPostCookie is BenchmarkSignInPostCookie's timed work under its own name, for instruction
// counts (valgrind --tool=callgrind --toggle-collect='*signInPostCookie*').
//
//go:noinline
func signInPostCookie(b *testing.B, cs *Cookies, c echo.Context) {
	if err := cs.CheckCSRF(c); err != nil {
		b.Fatal(err)
	}
	if _, fresh := cs.PeekRequestBrowser(c); fresh {
		b.Fatal("the binding was not in the cookie")
	}
	for _, f := range [...]string{"id", "login", "password"} {
		if c.FormValue(f) == "" {
			b.Fatal("no " + f)
		}
	}
}
