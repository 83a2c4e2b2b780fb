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
// (the form parsed): 35, of which the form 18. 39 when gorilla's registry kept the session in
// the request's context (session 22).
const maxCookieReadAllocs = 36

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
