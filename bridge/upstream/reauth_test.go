package upstream

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAuthURLForwardsReauth: an app's prompt=login and max_age (OpenID Connect Core 3.1.2.1)
// are forwarded to the provider, so that its live session does not answer a request for a
// fresh sign-in; a request without them adds neither.
func TestAuthURLForwardsReauth(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	zero, hour := time.Duration(0), time.Hour
	for _, tc := range []struct {
		name           string
		re             Reauth
		prompt, maxAge string
	}{
		{"none", Reauth{}, "", ""},
		{"prompt=login", Reauth{Login: true}, "login", ""},
		{"max_age=0", Reauth{MaxAge: &zero}, "", "0"},
		{"prompt=login read as max_age=0 too", Reauth{Login: true, MaxAge: &zero}, "login", ""},
		{"max_age=3600 and prompt=login", Reauth{Login: true, MaxAge: &hour}, "login", "3600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := p.AuthURL(context.Background(), "st", "n-1", strings.Repeat("v", 43), tc.re)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(raw)
			q := u.Query()
			if q.Get("prompt") != tc.prompt || q.Get("max_age") != tc.maxAge || q.Has("max_age") != (tc.maxAge != "") {
				t.Fatalf("prompt %q max_age %q, want %q %q: %s", q.Get("prompt"), q.Get("max_age"), tc.prompt, tc.maxAge, raw)
			}
		})
	}
}

// TestExchangeReadsAuthTime: the upstream ID token's auth_time is the identity's AuthTime
// (zero without one).
func TestExchangeReadsAuthTime(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	c := f.idClaims("n-1")
	c["auth_time"] = at.Unix()
	f.idToken = f.sign(c)
	cb := Callback{Code: "c", Iss: f.srv.URL, IssPresent: true}
	id, err := p.Exchange(context.Background(), cb, "n-1", strings.Repeat("v", 43))
	if err != nil || !id.AuthTime.Equal(at) {
		t.Fatalf("AuthTime %v, want %v (err %v)", id, at, err)
	}
	f.idToken = f.sign(f.idClaims("n-1"))
	if id, err := p.Exchange(context.Background(), cb, "n-1", strings.Repeat("v", 43)); err != nil || !id.AuthTime.IsZero() {
		t.Fatalf("no auth_time: %+v %v", id, err)
	}
}

// TestReauthFresh: the upstream's auth_time is checked against what the app asked: prompt=login
// (and max_age=0) needs an authentication after the browser was sent to the provider, max_age
// one within that many seconds; an upstream that sends no auth_time cannot show either.
func TestReauthFresh(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	started := now.Add(-30 * time.Second)
	zero, tenMin := time.Duration(0), 10*time.Minute
	for _, tc := range []struct {
		name     string
		re       Reauth
		authTime time.Time
		ok       bool
	}{
		{"nothing asked, no auth_time", Reauth{}, time.Time{}, true},
		{"nothing asked, old session", Reauth{}, now.Add(-72 * time.Hour), true},
		{"prompt=login, no auth_time", Reauth{Login: true}, time.Time{}, false},
		{"prompt=login, session of yesterday", Reauth{Login: true}, now.Add(-24 * time.Hour), false},
		{"prompt=login, session of 5 minutes before the start", Reauth{Login: true}, started.Add(-5 * time.Minute), false},
		{"prompt=login, signed in after the start", Reauth{Login: true}, started.Add(10 * time.Second), true},
		{"prompt=login, upstream clock a little behind", Reauth{Login: true}, started.Add(-20 * time.Second), true},
		{"max_age=0, session of 5 minutes before", Reauth{MaxAge: &zero}, started.Add(-5 * time.Minute), false},
		{"max_age=0, signed in after the start", Reauth{MaxAge: &zero}, now, true},
		{"max_age=600, 5 minutes old", Reauth{MaxAge: &tenMin}, now.Add(-5 * time.Minute), true},
		{"max_age=600, an hour old", Reauth{MaxAge: &tenMin}, now.Add(-time.Hour), false},
		{"max_age=600, no auth_time", Reauth{MaxAge: &tenMin}, time.Time{}, false},
		{"max_age=600 and prompt=login, 5 minutes old", Reauth{Login: true, MaxAge: &tenMin}, now.Add(-5 * time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.re.Fresh(tc.authTime, started, now)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNotFresh)) {
				t.Fatalf("Fresh: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestSessionAuthTime: a session opened through a provider takes the provider's auth_time when
// the provider answered from an earlier session of its own (before the browser was sent there,
// less the clock skew allowed), and now when the member authenticated during this sign-in (the
// provider's whole seconds and clock) or it sent one in the future; with none sent, a day and
// more before now (never fresh: session 22, review s21 X3).
func TestSessionAuthTime(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 500_000_000, time.UTC)
	started := now.Add(-20 * time.Second)
	for _, tc := range []struct {
		name     string
		authTime time.Time
		want     time.Time
	}{
		{"none", time.Time{}, now.Add(-UnknownAuthAge)},
		{"days old", now.Add(-72 * time.Hour), now.Add(-72 * time.Hour)},
		{"ten minutes before the sign-in", started.Add(-10 * time.Minute), started.Add(-10 * time.Minute)},
		{"during the sign-in, whole seconds", now.Truncate(time.Second), now},
		{"just before the start (provider's clock behind)", started.Add(-30 * time.Second), now},
		{"in the future", now.Add(time.Hour), now},
	} {
		if got := SessionAuthTime(tc.authTime, started, now); !got.Equal(tc.want) {
			t.Errorf("%s: SessionAuthTime = %s, want %s", tc.name, got, tc.want)
		}
	}
}
