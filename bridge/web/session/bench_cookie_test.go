package session

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// BenchmarkCookieRoundTrip is a login form's cookie work: a new browser's GET binds a request,
// takes its CSRF token and saves the cookie; its POST checks the token and reads the binding.
// The requests carry a context as the bridge's do (the server's values, a deadline, the
// logging fields, the protocol request), through which gorilla's registry is found.
func BenchmarkCookieRoundTrip(b *testing.B) {
	k := func(c byte) []byte { return []byte(strings.Repeat(string(rune(c)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: true, Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	type key int
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 6 {
		ctx = context.WithValue(ctx, key(i), i)
	}
	request := func(method, target string, body io.Reader) *http.Request {
		return httptest.NewRequest(method, target, body).WithContext(ctx)
	}
	get := func() (*httptest.ResponseRecorder, string) {
		rec := httptest.NewRecorder()
		c := e.NewContext(request(http.MethodGet, "/authorize", nil), rec)
		if _, err := cs.RequestBrowser(c); err != nil {
			b.Fatal(err)
		}
		tok, err := cs.CSRFToken(c)
		if err != nil {
			b.Fatal(err)
		}
		return rec, tok
	}
	rec, tok := get()
	form := url.Values{"csrf": {tok}}.Encode()
	cookies := rec.Result().Cookies()
	post := func() {
		req := request(http.MethodPost, "/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookies[0])
		c := e.NewContext(req, httptest.NewRecorder())
		if err := cs.CheckCSRF(c); err != nil {
			b.Fatal(err)
		}
		if _, fresh := cs.PeekRequestBrowser(c); fresh {
			b.Fatal("the binding was not in the cookie")
		}
		if _, err := cs.CSRFToken(c); err != nil {
			b.Fatal(err)
		}
		if err := cs.Set(c, "session-id"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		get()
		post()
	}
}
