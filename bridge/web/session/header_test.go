package session

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// TestCookieHeaderIsGorillas: the Set-Cookie line Save writes is the one gorilla's
// CookieStore.Save wrote (sessions.NewCookie formatted by http.Cookie.String), for the
// cookie names and lifetimes the bridge uses.
func TestCookieHeaderIsGorillas(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 4, 3, 999_000_000, time.FixedZone("x", -6*3600))
	value := "MTc2NTAwMDAwMHxhYmNkZWZfLQ==" + strings.Repeat("A", 200)
	for _, secure := range []bool{false, true} {
		for _, life := range []time.Duration{time.Second, time.Hour, 30 * 24 * time.Hour, 400 * 24 * time.Hour} {
			k := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
			cs := New(Config{HashKey: k('a'), BlockKey: k('b'), CSRFKey: k('c'), Secure: secure, Lifetime: life}, nil, nil)
			if !cs.header.ok || cs.seal == nil {
				t.Fatalf("secure=%v lifetime %v: the header is left to gorilla", secure, life)
			}
			ck := sessions.NewCookie(cs.name, value, cs.store.Options)
			ck.Expires = now.Add(life)
			if got, want := cs.header.line(value, now), ck.String(); got != want {
				t.Errorf("secure=%v lifetime %v:\n got %s\nwant %s", secure, life, got, want)
			}
		}
	}
	if h := newCookieHeader(cookieName, &sessions.Options{Path: "/", MaxAge: -1}); h.ok {
		t.Error("a cookie to delete (MaxAge < 0) cut as a lasting one")
	}
}
