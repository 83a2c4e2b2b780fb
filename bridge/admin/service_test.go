package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// The administration's tests run on the real store, SQLite in memory (newFixture), not on a
// fake of it: a fake that no conformance suite checks passes whatever it was written to pass
// (closing s20: the admin package's fakeStore ran none). Failures are injected by wrapping it
// (failingReads, goneBeforeDelete, revokeFails).

// failingReads is a store whose grant listing fails (a store that cannot be read).
type failingReads struct {
	admin.Store
	err error
}

func (f failingReads) ListRefreshTokens(context.Context, string, string) ([]*sso.RefreshToken, error) {
	return nil, f.err
}

// storedClient is the client the store holds under id, nil when none.
func (f *fixture) storedClient(t *testing.T, id string) *sso.StoredClient {
	t.Helper()
	c, err := f.st.Client(context.Background(), id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// putSubject records a subject in the fixture's store.
func (f *fixture) putSubject(t *testing.T, s *store.Subject) {
	t.Helper()
	if s.FirstSeen.IsZero() {
		s.FirstSeen, s.LastSeen = f.now, f.now
	}
	if err := f.st.PutSubject(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// staticRegistry holds the configuration file's clients.
type staticRegistry []*sso.ClientConfig

func (r staticRegistry) All(context.Context) []*sso.ClientConfig { return r }
func (r staticRegistry) IsStatic(id string) bool {
	return slices.ContainsFunc(r, func(c *sso.ClientConfig) bool { return c.ID == id })
}

// ender records the sessions it ends.
type ender struct{ ended []string }

func (e *ender) EndSession(_ context.Context, s *sso.Session) error {
	e.ended = append(e.ended, s.ID)
	return nil
}

type members map[string]string // login -> member key

func (m members) MemberByLogin(_ context.Context, login string) (*legacy.Member, error) {
	if k, ok := m[login]; ok {
		return &legacy.Member{Key: k, Login: login}, nil
	}
	return nil, legacy.ErrNotFound
}

type subjects struct{}

func (subjects) Subject(key string) string { return "sub-" + key }

type previewer struct{}

func (previewer) ClaimsPreview(_ context.Context, client, login string, scopes []string) (*admin.ClaimsPreview, error) {
	if login != "alice" {
		return nil, errors.New("no member")
	}
	return &admin.ClaimsPreview{Client: client, Login: login, Scopes: scopes, SignIn: "ok"}, nil
}

type fixture struct {
	svc   *admin.Service
	st    *sqlite.Store
	ender *ender
	audit []*store.AuditEvent
	now   time.Time
}

// newFixture is the administration over a real store (SQLite in memory) holding: the member
// alice (sub-k1) with grants (families) fam-1 at the static client web and fam-2 at the
// dynamic client dyn, and sessions s1 (web) and s2 (dyn); bob (sub-k2, not in the subjects
// table) with fam-3 and s3 at web.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// The store reads live grants and sessions by its own clock: they end an hour from now.
	ends := time.Now().Add(time.Hour)
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{ender: &ender{}, st: st, now: now}
	dyn, err := sso.EncodeClient(&sso.ClientConfig{ID: "dyn", Name: "Dynamic", SecretHash: "sha256:" + sso.HashToken("s"),
		RedirectURIs: []string{"https://dyn.example/cb"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateClient(ctx, dyn))
	f.putSubject(t, &store.Subject{Subject: "sub-k1", MemberKey: "k1", Login: "alice"})
	for _, s := range []struct{ id, sub, client string }{{"s1", "sub-k1", "web"}, {"s2", "sub-k1", "dyn"}, {"s3", "sub-k2", "web"}} {
		must(st.CreateSession(ctx, &sso.Session{ID: s.id, Subject: s.sub, AuthTime: now, AMR: []string{"pwd"},
			CreatedAt: now, LastSeen: now, ExpiresAt: ends}))
		must(st.AddSessionClient(ctx, s.id, s.client, now))
	}
	for i, g := range []struct{ id, client, sub, session string }{{"fam-1", "web", "sub-k1", "s1"}, {"fam-2", "dyn", "sub-k1", "s2"}, {"fam-3", "web", "sub-k2", "s3"}} {
		must(st.IssueTokens(ctx, sso.Issue{Family: &sso.RefreshToken{Hash: sso.HashToken("rt-" + g.id), FamilyID: g.id,
			ClientID: g.client, Subject: g.sub, Audience: []string{g.client}, Scopes: []string{"openid", "offline_access"},
			SessionID: g.session, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now.Add(time.Duration(i) * time.Second), ExpiresAt: ends}}))
	}
	f.svc = &admin.Service{
		Store:        st,
		Registry:     staticRegistry{{ID: "web", Name: "Web", SecretHash: "sha256:x"}},
		SessionEnder: f.ender,
		Previewer:    previewer{},
		Audit:        func(_ context.Context, e *store.AuditEvent) { f.audit = append(f.audit, e) },
		Subjects:     subjects{},
		Directory:    members{"alice": "k1", "bob": "k2"},
		Now:          func() time.Time { return now },
		SigningAlgs:  []string{"RS256", "ES256", "EdDSA"}, // the default keys.algorithms
	}
	return f
}

func (f *fixture) events() []string {
	var out []string
	for _, e := range f.audit {
		out = append(out, e.Event)
	}
	return out
}

const token = "admin-token-0123456789abcdef0123456789"

// TestHandlerAnswers: each path's status, error code and audit row.
func TestHandlerAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body, contentType, token string
		status                                       int
		want                                         string // in the body
		event                                        string // audit event written ("" none)
	}{
		{"no token", "GET", "/admin/tokens", "", "", "-", 401, `"invalid_request"`, ""},
		{"wrong token", "GET", "/admin/tokens", "", "", token + "x", 401, `"invalid_token"`, "admin.auth_failure"},
		{"unknown path", "GET", "/admin/nope", "", "", token, 404, `"not_found"`, ""},
		{"tokens of a login", "GET", "/admin/tokens?login=alice", "", "", token, 200, `"fam-2"`, "admin.tokens_list"},
		{"tokens of an unknown login", "GET", "/admin/tokens?login=nobody", "", "", token, 404, `"not_found"`, ""},
		{"revoke everything", "POST", "/admin/tokens/revoke", `{}`, "application/json", token, 400, `"invalid_request"`, ""},
		{"revoke an unknown grant", "POST", "/admin/tokens/revoke", `{"id":"nope"}`, "application/json", token, 404, `"not_found"`, ""},
		{"revoke by login and client", "POST", "/admin/tokens/revoke", `{"login":"alice","client":"web"}`, "application/json", token, 200, `"revoked": 1`, "admin.tokens_revoke"},
		{"revoke, not JSON", "POST", "/admin/tokens/revoke", `id=fam-1`, "application/x-www-form-urlencoded", token, 400, "Content-Type", ""},
		{"revoke, unknown field", "POST", "/admin/tokens/revoke", `{"who":"alice"}`, "application/json", token, 400, "unknown field", ""},
		{"revoke, two objects", "POST", "/admin/tokens/revoke", `{"id":"fam-1"}{}`, "application/json", token, 400, "one JSON object", ""},
		{"sessions of a client", "GET", "/admin/sessions?client=dyn", "", "", token, 200, `"s2"`, "admin.sessions_list"},
		{"end sessions of a login", "POST", "/admin/sessions/revoke", `{"login":"alice"}`, "application/json", token, 200, `"ended": 2`, "admin.sessions_revoke"},
		{"end an unknown session", "POST", "/admin/sessions/revoke", `{"id":"nope"}`, "application/json", token, 404, `"not_found"`, ""},
		{"clients", "GET", "/admin/clients", "", "", token, 200, `"source": "config"`, "admin.clients_list"},
		{"a dynamic client", "GET", "/admin/clients/dyn", "", "", token, 200, `"has_secret": true`, "admin.client_show"},
		{"an unknown client", "GET", "/admin/clients/nope", "", "", token, 404, `"not_found"`, "admin.client_show"},
		{"delete a static client", "DELETE", "/admin/clients/web", "", "", token, 409, `"static_client"`, ""},
		{"rotate a static client's secret", "POST", "/admin/clients/web/rotate-secret", "", "", token, 409, `"static_client"`, ""},
		{"create a static client's id", "POST", "/admin/clients", `{"id":"web","redirect_uris":["https://x.example/cb"]}`, "application/json", token, 400, "config file", ""},
		{"create an existing id", "POST", "/admin/clients", `{"id":"dyn","redirect_uris":["https://x.example/cb"]}`, "application/json", token, 400, "exists already", ""},
		{"create", "POST", "/admin/clients", `{"id":"new","redirect_uris":["https://x.example/cb"]}`, "application/json", token, 201, `"client_secret"`, "admin.client_add"},
		{"delete", "DELETE", "/admin/clients/dyn", "", "", token, 200, `"deleted": "dyn"`, "admin.client_remove"},
		{"rotate", "POST", "/admin/clients/dyn/rotate-secret", "", "", token, 200, `"client_secret"`, "admin.client_rotate_secret"},
		{"preview without a login", "GET", "/admin/claims-preview?client=web", "", "", token, 400, `"invalid_request"`, ""},
		{"preview of an unknown member", "GET", "/admin/claims-preview?client=web&login=bob", "", "", token, 404, `"not_found"`, ""},
		{"preview", "GET", "/admin/claims-preview?client=web&login=alice&scope=openid+email", "", "", token, 200, `"email"`, "admin.claims_preview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.token != "-" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			f.svc.Handler(token).ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s: %d %s, want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
			}
			if h := rec.Header(); h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "application/json" {
				t.Fatalf("headers: %v", h)
			}
			var want []string
			if tc.event != "" {
				want = []string{tc.event}
			}
			if got := f.events(); !slices.Equal(got, want) {
				t.Fatalf("audit: %v, want %v", got, want)
			}
			for _, e := range f.audit {
				if e.Event != "admin.auth_failure" && !strings.Contains(e.Detail, "admin-api@192.0.2.1") {
					t.Fatalf("audit row does not name the caller: %+v", e)
				}
			}
		})
	}
}

// TestStoreFailureIsAServerError: a failure of the store is a 500 without its text.
func TestStoreFailureIsAServerError(t *testing.T) {
	f := newFixture(t)
	f.svc.Store = failingReads{f.st, errors.New("disk on fire")}
	req := httptest.NewRequest("GET", "/admin/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	f.svc.Handler(token).ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"server_error"`) || strings.Contains(rec.Body.String(), "fire") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestEndSessionsThroughTheEnder: sessions end through the session ender the service was
// given (back-channel logout), never the store alone; the filter narrows them.
func TestEndSessionsThroughTheEnder(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter admin.Filter
		want   []string
		err    error
	}{
		{"nothing named", admin.Filter{}, nil, admin.ErrInvalid},
		{"by id", admin.Filter{ID: "s3"}, []string{"s3"}, nil},
		{"by id of another member", admin.Filter{ID: "s3", Login: "alice"}, nil, admin.ErrNotFound},
		{"by login", admin.Filter{Login: "alice"}, []string{"s1", "s2"}, nil},
		{"by subject and client", admin.Filter{Subject: "sub-k1", Client: "dyn"}, []string{"s2"}, nil},
		{"by client", admin.Filter{Client: "web"}, []string{"s1", "s3"}, nil},
		{"unknown login", admin.Filter{Login: "nobody"}, nil, admin.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			n, err := f.svc.EndSessions(ctx, "tester", tc.filter)
			if !errors.Is(err, tc.err) || n != len(tc.want) || !slices.Equal(f.ender.ended, tc.want) {
				t.Fatalf("ended %d %v, err %v; want %v, %v", n, f.ender.ended, err, tc.want, tc.err)
			}
			if tc.err == nil && (len(f.audit) != 1 || f.audit[0].Detail != fmt.Sprintf("by tester: %s (%d)", tc.filter, n)) {
				t.Fatalf("audit: %+v", f.audit)
			}
		})
	}
}

// TestLoginWithoutDirectory: with no member directory, a login cannot be resolved.
func TestLoginWithoutDirectory(t *testing.T) {
	f := newFixture(t)
	f.svc.Directory = nil
	if _, err := f.svc.Tokens(context.Background(), "tester", admin.Filter{Login: "alice"}); !errors.Is(err, admin.ErrInvalid) {
		t.Fatalf("err %v", err)
	}
	if got, err := f.svc.Tokens(context.Background(), "tester", admin.Filter{Subject: "sub-k1"}); err != nil || len(got) != 2 || got[0].Login != "alice" {
		t.Fatalf("by subject: %v %+v", err, got)
	}
}
