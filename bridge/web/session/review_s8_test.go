package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// lastCookie is the cookie named name a browser keeps from rec's response (the last
// Set-Cookie of that name wins).
func lastCookie(t *testing.T, rec *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	var last *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			last = c
		}
	}
	if last == nil {
		t.Fatalf("no %s cookie set", name)
	}
	return last
}

// TestUndecodableCookieKeepsItsBinding (review s8 Y1): a browser whose cookie does not decode
// (tampered, from another installation, sealed with other keys) gets a new cookie session, and
// what this request puts in it stays for the rest of the request. The authorization page binds
// the request (PeekRequestBrowser), saves the cookie and asks for the CSRF token; gorilla's
// registry hands the decoding error back at every later read of the request, and get cleared
// the values again each time: the binding nonce was gone from the cookie the browser kept, so
// its sign-in post was refused as "started in another browser".
func TestUndecodableCookieKeepsItsBinding(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Lifetime: time.Hour}, nil, nil)
	e := echo.New()

	req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: "not-a-cookie-of-ours"})
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	binding, fresh := cs.PeekRequestBrowser(c)
	if !fresh {
		t.Fatal("an undecodable cookie gave a binding that is not new")
	}
	if err := cs.Save(c); err != nil { // Authorize: a request was stored bound to binding
		t.Fatal(err)
	}
	token, err := cs.CSRFToken(c) // the login form
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cs.PeekRequestBrowser(c); again != binding {
		t.Fatal("the binding changed within the request")
	}

	// The form post, with the cookie the browser kept.
	req = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("csrf="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(lastCookie(t, rec, cookieName))
	c = e.NewContext(req, httptest.NewRecorder())
	if err := cs.CheckCSRF(c); err != nil {
		t.Fatalf("the form's CSRF token: %v", err)
	}
	got, fresh := cs.PeekRequestBrowser(c)
	if fresh || got != binding {
		t.Fatalf("the sign-in post's binding: fresh %v, same %v: the request bound at /authorize is another browser's to it",
			fresh, got == binding)
	}
}

// TestOldNameCookieCarriedOnce (review s8 Y1): on https, a cookie under the name from before
// the __Host- prefix is carried over when the request starts, not again at every read of the
// request: signing in (Set) replaces the session id, and a read after it must not bring the old
// one back.
func TestOldNameCookieCarriedOnce(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	old := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Lifetime: time.Hour}, nil, nil)
	e := echo.New()
	req := httptest.NewRequest(http.MethodGet, "https://sso.example.org/", nil)
	rec := httptest.NewRecorder()
	if err := old.Set(e.NewContext(req, rec), "old-session"); err != nil {
		t.Fatal(err)
	}
	oldCookie := lastCookie(t, rec, cookieName)

	cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: true, Lifetime: time.Hour}, nil, nil)
	req = httptest.NewRequest(http.MethodPost, "https://sso.example.org/login", nil)
	req.AddCookie(oldCookie)
	rec = httptest.NewRecorder()
	c := e.NewContext(req, rec)
	if sid := str(cs.get(c.Request()), keySession); sid != "old-session" {
		t.Fatalf("old cookie not carried over: %q", sid)
	}
	if err := cs.Set(c, "new-session"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CSRFToken(c); err != nil { // any later read of the request
		t.Fatal(err)
	}
	if err := cs.Save(c); err != nil {
		t.Fatal(err)
	}
	req = httptest.NewRequest(http.MethodGet, "https://sso.example.org/", nil)
	req.AddCookie(lastCookie(t, rec, cookieNameHost))
	if sid := str(cs.get(req), keySession); sid != "new-session" {
		t.Fatalf("after signing in, the cookie holds session %q, want new-session", sid)
	}
}
