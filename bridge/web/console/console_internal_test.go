package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

type fixture struct {
	c      *Console
	now    time.Time
	events []string
	roles  []string // what MemberRoles answers for the signed-in administrator
	// disabled: the administrator's AMS account is disabled (review s4).
	disabled bool
	// pwChanged is when the AMS last recorded a change of the administrator's password.
	pwChanged time.Time
	st        store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), roles: []string{"SysAdmin"}}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutSubject(context.Background(), &store.Subject{Subject: "sub-bob", MemberKey: "k-bob", Login: "bob"}); err != nil {
		t.Fatal(err)
	}
	svc := &admin.Service{Store: st, Keys: keysFunc(func(key string) (*legacy.Member, error) {
		if key != "k-bob" {
			return nil, legacy.ErrNotFound
		}
		return &legacy.Member{Key: key, Login: "bob", Roles: f.roles,
			Standing: legacy.Standing{Approved: true, Disabled: f.disabled, PasswordChangedAt: f.pwChanged}}, nil
	}), Audit: func(_ context.Context, e *store.AuditEvent) { f.events = append(f.events, e.Event) },
		ConsoleSessions: st, Factors: st, Now: func() time.Time { return f.now }}
	f.st = st
	key := make([]byte, 32)
	c, err := New(Config{URL: "http://127.0.0.1:8081", Issuer: "http://127.0.0.1:8080", HTTP: http.DefaultClient,
		ClientSecret: "secret", Roles: []string{"SysAdmin"}, IdleTimeout: 15 * time.Minute, HashKey: key, BlockKey: key,
		Admin: svc, Sessions: st, Now: func() time.Time { return f.now },
		// These tests store their sessions directly; the sign-in's callback runs in bridge's tests.
		BridgeSession: func(context.Context, string, string) (string, time.Time, error) {
			return "", time.Time{}, sso.ErrNotFound
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

type keysFunc func(key string) (*legacy.Member, error)

func (k keysFunc) MemberByKey(_ context.Context, key string) (*legacy.Member, error) { return k(key) }

// cookie is a console session's cookie, its session (signed in with the AMS password at
// issued) stored as issued and last seen at the given times, its roles checked when last seen.
func (f *fixture) cookie(t *testing.T, issued, seen time.Time) *http.Cookie {
	t.Helper()
	ck, _ := f.session(t, issued, seen, "pwd")
	return ck
}

// session is cookie with its stored record's id hash, signed in with amr.
func (f *fixture) session(t *testing.T, issued, seen time.Time, amr ...string) (*http.Cookie, string) {
	t.Helper()
	id := randomToken()
	rec := &store.ConsoleSession{IDHash: sso.HashToken(id), Subject: "sub-bob", Login: "bob", CSRF: "csrf-token",
		AuthTime: issued, AMR: amr, CreatedAt: issued, SeenAt: seen, CheckedAt: seen, ExpiresAt: issued.Add(maxSession)}
	if err := f.st.CreateConsoleSession(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	v, err := f.c.codec.Encode(f.c.session, sessionCookie{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: f.c.session, Value: v}, rec.IDHash
}

// record is the stored console session of a cookie.
func (f *fixture) record(t *testing.T, ck *http.Cookie) *store.ConsoleSession {
	t.Helper()
	var sc sessionCookie
	if err := f.c.codec.Decode(f.c.session, ck.Value, &sc); err != nil {
		t.Fatal(err)
	}
	rec, err := f.st.ConsoleSession(context.Background(), sso.HashToken(sc.ID))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *fixture) do(method, target string, form url.Values, cookie *http.Cookie, origin string) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	rec := httptest.NewRecorder()
	f.c.Handler().ServeHTTP(rec, req)
	return rec
}

// TestSessionLifetime: a console session ends after the idle timeout and after the longest
// session however active; a tampered cookie, one whose session was ended or is unknown, and a
// cookie of the sealed-cookie sessions before the store kept them are no session; an active
// one's last-seen time is written (at most once a minute), not its cookie.
func TestSessionLifetime(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name         string
		issued, seen time.Duration // before now
		tamper       string
		want         int
	}{
		{"fresh", 0, 0, "", http.StatusOK},
		{"active", 2 * time.Hour, 14 * time.Minute, "", http.StatusOK},
		{"idle", time.Hour, 16 * time.Minute, "", http.StatusSeeOther},
		{"too old", 13 * time.Hour, 0, "", http.StatusSeeOther},
		{"tampered", 0, 0, "seal", http.StatusSeeOther},
		{"ended", 0, 0, "end", http.StatusSeeOther},
		{"unknown id", 0, 0, "unknown", http.StatusSeeOther},
		{"cookie before the store kept sessions", 0, 0, "old", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck, id := f.session(t, f.now.Add(-tc.issued), f.now.Add(-tc.seen), "pwd")
			switch tc.tamper {
			case "seal":
				ck.Value = ck.Value[:len(ck.Value)-2] + "xx"
			case "end":
				if err := f.st.EndConsoleSession(t.Context(), id, f.now, "signed out"); err != nil {
					t.Fatal(err)
				}
			case "unknown":
				v, err := f.c.codec.Encode(f.c.session, sessionCookie{ID: randomToken()})
				if err != nil {
					t.Fatal(err)
				}
				ck.Value = v
			case "old":
				// What the console sealed before: the whole session in the cookie.
				v, err := f.c.codec.Encode(f.c.session, map[string]any{"sub": "sub-bob", "login": "bob", "csrf": "csrf-token",
					"iat": f.now.Unix(), "seen": f.now.Unix(), "checked": f.now.Unix()})
				if err != nil {
					t.Fatal(err)
				}
				ck.Value = v
			}
			rec := f.do("GET", "/console/", nil, ck, "")
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if tc.want == http.StatusSeeOther && rec.Header().Get("Location") != "/console/login?return=%2Fconsole%2F" {
				t.Fatalf("location %q", rec.Header().Get("Location"))
			}
			if len(rec.Result().Cookies()) != 0 {
				t.Fatalf("cookie set: %v", rec.Result().Cookies())
			}
			got, err := f.st.ConsoleSession(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if written := !got.SeenAt.Equal(f.now.Add(-tc.seen)); written != (tc.name == "active") || written && !got.SeenAt.Equal(f.now) {
				t.Fatalf("last seen %v (now %v)", got.SeenAt, f.now)
			}
			for _, c := range rec.Result().Cookies() {
				if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
					t.Fatalf("cookie flags: %+v", c)
				}
			}
		})
	}
}

// TestRolesReadAgain: a live session reads the administrator's AMS roles again every few
// minutes; one who lost the role is signed out of the console with a 403 page.
func TestRolesReadAgain(t *testing.T) {
	f := newFixture(t)
	ck := f.cookie(t, f.now.Add(-time.Hour), f.now.Add(-6*time.Minute)) // roles read 6 minutes ago
	ck2 := *ck
	f.now = f.now.Add(-2 * time.Minute) // seen 4 minutes ago: not read again yet
	f.roles = nil
	if rec := f.do("GET", "/console/", nil, ck, ""); rec.Code != http.StatusOK {
		t.Fatalf("within the re-check period: %d", rec.Code)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.roles = []string{"SysAdmin"}
	rec := f.do("GET", "/console/", nil, ck, "")
	if got := f.record(t, ck); rec.Code != http.StatusOK || !got.CheckedAt.Equal(f.now) || !got.SeenAt.Equal(f.now) {
		t.Fatalf("roles kept: %d checked %v seen %v", rec.Code, got.CheckedAt, got.SeenAt)
	}
	f.now = f.now.Add(roleCheckEvery + time.Second)
	f.roles = []string{"Member"}
	rec = f.do("GET", "/console/", nil, &ck2, "")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "no longer holds") || !slices.Equal(f.events, []string{"console.access_revoked"}) {
		t.Fatalf("role lost: %d %v %s", rec.Code, f.events, rec.Body)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("cookie not cleared: %v", c)
	}
	if got := f.record(t, ck); got.EndedAt.IsZero() || got.EndReason != endNoRole {
		t.Fatalf("session not ended: %+v", got)
	}
	f.roles = []string{"SysAdmin"} // given back: the ended session stays ended
	if rec := f.do("GET", "/console/", nil, ck, ""); rec.Code != http.StatusSeeOther {
		t.Fatalf("an ended session answered %d", rec.Code)
	}
}

// TestFormsNeedTokenAndOrigin: a POST needs a session, the session's CSRF token and, when the
// browser names one, the console's origin.
func TestFormsNeedTokenAndOrigin(t *testing.T) {
	f := newFixture(t)
	ck := f.cookie(t, f.now, f.now)
	ck2 := f.cookie(t, f.now, f.now) // the first "ok" signs ck out
	for _, tc := range []struct {
		name   string
		form   url.Values
		cookie *http.Cookie
		origin string
		want   int
	}{
		{"no session", url.Values{"csrf": {"csrf-token"}}, nil, "", http.StatusForbidden},
		{"no token", url.Values{}, ck, "", http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {"csrf-tokem"}}, ck, "", http.StatusForbidden},
		{"other origin", url.Values{"csrf": {"csrf-token"}}, ck, "http://evil.example", http.StatusForbidden},
		{"ok", url.Values{"csrf": {"csrf-token"}}, ck, "http://127.0.0.1:8081", http.StatusSeeOther},
		{"ok, origin null", url.Values{"csrf": {"csrf-token"}}, ck2, "null", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.events = nil
			rec := f.do("POST", "/console/logout", tc.form, tc.cookie, tc.origin)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusSeeOther && !slices.Equal(f.events, []string{"console.logout"}) {
				t.Fatalf("audit %v", f.events)
			}
			if strings.Contains(tc.name, "token") && !slices.Equal(f.events, []string{"console.csrf_failure"}) {
				t.Fatalf("audit %v", f.events)
			}
		})
	}
}

// TestCallbackRefusals: a callback without the sign-in's cookie, with another state, from
// another issuer or without iss (RFC 9207 2.4; review s19 X19-2) is refused before any code
// exchange.
func TestCallbackRefusals(t *testing.T) {
	f := newFixture(t)
	login := func(state string, exp time.Time) *http.Cookie {
		v, err := f.c.codec.Encode(f.c.login, &loginState{State: state, Nonce: "n", Verifier: "v", Return: "/console/", Exp: exp.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return &http.Cookie{Name: f.c.login, Value: v}
	}
	for _, tc := range []struct {
		name   string
		query  string
		cookie *http.Cookie
		want   string
	}{
		{"no cookie", "?code=c&state=s", nil, "Sign-in expired"},
		{"other state", "?code=c&state=t", login("s", f.now.Add(time.Minute)), "Sign-in expired"},
		{"expired", "?code=c&state=s", login("s", f.now.Add(-time.Second)), "Sign-in expired"},
		{"other issuer", "?code=c&state=s&iss=http%3A%2F%2Fevil.example", login("s", f.now.Add(time.Minute)), "another one"},
		{"no issuer", "?code=c&state=s", login("s", f.now.Add(time.Minute)), "issuer (iss) is missing"},
		{"error", "?error=access_denied&state=s&iss=http%3A%2F%2F127.0.0.1%3A8080", login("s", f.now.Add(time.Minute)), "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do("GET", "/console/callback"+tc.query, nil, tc.cookie, "")
			if rec.Code < 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}

// TestSafeReturn: the page to return to after sign-in is a console path, never another site.
func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/console/clients?x=1":          "/console/clients?x=1",
		"":                              "/console/",
		"//evil.example/":               "/console/",
		"https://evil.example":          "/console/",
		"/console/\\evil":               "/console/",
		"/admin/tokens":                 "/console/",
		"/console/x\r\nSet-Cookie: a=b": "/console/",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClientFormKeepsInternalTargets: the client form shows and sends allow_internal_targets
// (bridge/outbound): before, saving a client in the console turned the switch off silently, and
// the app's back-channel logouts to its internal address became dead letters.
func TestClientFormKeepsInternalTargets(t *testing.T) {
	f := newFixture(t)
	for _, want := range []bool{true, false} {
		var buf strings.Builder
		err := f.c.tmpl["client"].ExecuteTemplate(&buf, "client.html",
			clientForm{base: f.c.base(nil, "Client intranet", "clients"), C: admin.Client{ID: "intranet", AllowInternalTargets: want}, Grants: grantChoices})
		if err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		if got := strings.Contains(page, `id="allow_internal_targets" checked`); got != want {
			t.Fatalf("client with AllowInternalTargets %v: the form's box checked %v", want, got)
		}
		form := url.Values{"id": {"intranet"}}
		if want {
			form.Set("allow_internal_targets", "on") // what the browser sends for a checked box
		}
		r := httptest.NewRequest("POST", "/console/clients/intranet", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		if got := formClient(r).AllowInternalTargets; got != want {
			t.Fatalf("formClient AllowInternalTargets %v, want %v", got, want)
		}
	}
}
