package bridge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCookieHostPrefix: on https the cookie is __Host- prefixed (Secure, Path=/, no Domain),
// and a cookie set under the old name before the upgrade is carried over.
func TestCookieHostPrefix(t *testing.T) {
	k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	old := newCookieSessions(k('a'), k('b'), k('c'), false, time.Hour)
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

	cs := newCookieSessions(k('a'), k('b'), k('c'), true, time.Hour)
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
