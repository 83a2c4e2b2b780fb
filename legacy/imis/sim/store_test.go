package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

func TestStorePurgesExpiredEntries(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStore(func() time.Time { return now })
	for range 50 {
		if _, _, err := s.newGrant("u", "c", time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.newSession("u", "U", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	long, _, _ := s.newGrant("u", "c", time.Hour)
	if sess, grants := s.counts(); sess != 50 || grants != 51 {
		t.Fatalf("counts %d %d", sess, grants)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := s.newGrant("u", "c", time.Minute); err != nil { // triggers the sweep
		t.Fatal(err)
	}
	if sess, grants := s.counts(); sess != 0 || grants != 2 {
		t.Fatalf("after purge: %d sessions, %d grants", sess, grants)
	}
	if g, ok := s.takeGrant(long); !ok || g.login != "u" {
		t.Fatal("the long-lived grant was purged")
	}
	if _, ok := s.takeGrant(long); ok {
		t.Fatal("a grant was taken twice")
	}
}

func TestStoreBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStore(func() time.Time { return now })
	for range maxEntries {
		if _, _, err := s.newGrant("u", "c", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.newGrant("u", "c", time.Hour); err != errFull {
		t.Fatalf("err = %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, _, err := s.newGrant("u", "c", time.Hour); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestStoreKeepsNoPlainTokens(t *testing.T) {
	s := newStore(time.Now)
	tok, _, _ := s.newGrant("u", "c", time.Hour)
	for k := range s.grants {
		if string(k[:]) == tok {
			t.Fatal("token stored in clear")
		}
	}
	if len(tok) != 32 {
		t.Fatalf("token %q", tok)
	}
}

func TestLocalReturn(t *testing.T) {
	s := New(Config{BasePath: "/demo-ams", Authenticator: nopAuth{}, Clients: []ClientApp{{ClientID: "a", ClientSecret: "s", LoginRedirectURL: "http://localhost:8080/h"}}})
	for raw, want := range map[string]string{
		"/demo-ams":                      "/demo-ams",
		"/demo-ams/":                     "/demo-ams/",
		"/demo-ams/sso?client=a":         "/demo-ams/sso?client=a",
		"/demo-ams/sso?client=a#frag":    "/demo-ams/sso?client=a",
		"/demo-ams/../admin":             "",
		"/demo-ams/./sso":                "",
		"/demo-amsx":                     "",
		"//evil.example":                 "",
		"/\\evil.example":                "",
		"https://evil.example/demo-ams/": "",
		"javascript:alert(1)":            "",
		"/demo-ams/\nx":                  "",
		"":                               "",
	} {
		got, ok := s.localReturn(raw)
		if got != want || ok != (want != "") {
			t.Errorf("localReturn(%q) = %q, %v", raw, got, ok)
		}
	}
}

type nopAuth struct{}

func (nopAuth) Authenticate(context.Context, string, string) (*legacy.Member, error) {
	return nil, legacy.ErrBadCredentials
}
