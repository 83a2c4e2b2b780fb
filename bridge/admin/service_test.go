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
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// fakeStore is the part of the store the administration uses, in memory.
type fakeStore struct {
	subjects map[string]*store.Subject
	tokens   []*sso.RefreshToken
	sessions []*sso.Session
	clients  map[string]*sso.StoredClient
	fail     error // returned by every read when set
}

func (f *fakeStore) SubjectByID(_ context.Context, sub string) (*store.Subject, error) {
	if s, ok := f.subjects[sub]; ok {
		return s, nil
	}
	return nil, sso.ErrNotFound
}

func (f *fakeStore) ListRefreshTokens(_ context.Context, sub, client string) ([]*sso.RefreshToken, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []*sso.RefreshToken
	for _, rt := range f.tokens {
		if (sub == "" || rt.Subject == sub) && (client == "" || rt.ClientID == client) {
			out = append(out, rt)
		}
	}
	return out, nil
}

func (f *fakeStore) Family(_ context.Context, id string) (*sso.RefreshToken, error) {
	for _, rt := range f.tokens {
		if rt.FamilyID == id {
			return rt, nil
		}
	}
	return nil, sso.ErrNotFound
}

func (f *fakeStore) RevokeFamily(_ context.Context, id string) error {
	f.tokens = slices.DeleteFunc(f.tokens, func(rt *sso.RefreshToken) bool { return rt.FamilyID == id })
	return nil
}

func (f *fakeStore) RevokeGrants(_ context.Context, sub, client string) (int, error) {
	n := len(f.tokens)
	f.tokens = slices.DeleteFunc(f.tokens, func(rt *sso.RefreshToken) bool {
		return (sub == "" || rt.Subject == sub) && (client == "" || rt.ClientID == client)
	})
	return n - len(f.tokens), nil
}

func (f *fakeStore) Session(_ context.Context, id string) (*sso.Session, error) {
	for _, s := range f.sessions {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, sso.ErrNotFound
}

func (f *fakeStore) Sessions(_ context.Context, sub string) ([]*sso.Session, error) {
	var out []*sso.Session
	for _, s := range f.sessions {
		if sub == "" || s.Subject == sub {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeStore) Client(_ context.Context, id string) (*sso.StoredClient, error) {
	if c, ok := f.clients[id]; ok {
		return c, nil
	}
	return nil, sso.ErrNotFound
}

func (f *fakeStore) Clients(context.Context) ([]*sso.StoredClient, error) {
	var out []*sso.StoredClient
	for _, c := range f.clients {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *sso.StoredClient) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeStore) CreateClient(_ context.Context, c *sso.StoredClient) error {
	if _, ok := f.clients[c.ID]; ok {
		return sso.ErrConflict
	}
	f.clients[c.ID] = c
	return nil
}

func (f *fakeStore) UpdateClient(_ context.Context, c *sso.StoredClient) error {
	f.clients[c.ID] = c
	return nil
}

func (f *fakeStore) DeleteClientCounted(_ context.Context, id string) (store.ClientRemoval, error) {
	_, existed := f.clients[id]
	delete(f.clients, id)
	// The store's contract: every grant of the client goes with it (sso/storetest
	// ClientDeleteRevokesGrants), counted (bridge/store/storetest ClientRemovalCounted).
	n := len(f.tokens)
	f.tokens = slices.DeleteFunc(f.tokens, func(rt *sso.RefreshToken) bool { return rt.ClientID == id })
	return store.ClientRemoval{Existed: existed, Grants: n - len(f.tokens)}, nil
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
	st    *fakeStore
	ender *ender
	audit []*store.AuditEvent
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dyn, err := sso.EncodeClient(&sso.ClientConfig{ID: "dyn", Name: "Dynamic", SecretHash: "sha256:" + sso.HashToken("s"),
		RedirectURIs: []string{"https://dyn.example/cb"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ender: &ender{}}
	f.st = &fakeStore{
		subjects: map[string]*store.Subject{"sub-k1": {Subject: "sub-k1", Login: "alice"}},
		tokens: []*sso.RefreshToken{
			{FamilyID: "fam-1", ClientID: "web", Subject: "sub-k1"},
			{FamilyID: "fam-2", ClientID: "dyn", Subject: "sub-k1"},
			{FamilyID: "fam-3", ClientID: "web", Subject: "sub-k2"},
		},
		sessions: []*sso.Session{
			{ID: "s1", Subject: "sub-k1", Clients: []string{"web"}},
			{ID: "s2", Subject: "sub-k1", Clients: []string{"dyn"}},
			{ID: "s3", Subject: "sub-k2", Clients: []string{"web"}},
		},
		clients: map[string]*sso.StoredClient{"dyn": dyn},
	}
	f.svc = &admin.Service{
		Store:        f.st,
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
	f.st.fail = errors.New("disk on fire")
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
