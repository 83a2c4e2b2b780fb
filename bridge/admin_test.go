package bridge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
)

const adminToken = "admin-token-0123456789abcdef0123456789"

type adminClient struct {
	t   *testing.T
	url string
}

func (a adminClient) do(method, path, token string, body any) (int, http.Header, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		a.t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, m
}

func (a adminClient) ok(method, path string, body any) map[string]any {
	a.t.Helper()
	status, _, m := a.do(method, path, adminToken, body)
	if status >= 300 {
		a.t.Fatalf("%s %s: %d %v", method, path, status, m)
	}
	return m
}

func adminEnv(t *testing.T, mutate ...func(*bridge.Config)) (*env, adminClient) {
	e := grantEnv(t, append([]func(*bridge.Config){func(c *bridge.Config) { c.Admin.Token = adminToken }}, mutate...)...)
	h := e.bridge.AdminHandler()
	if h == nil {
		t.Fatal("admin API off with a token configured")
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return e, adminClient{t: t, url: srv.URL}
}

func TestAdminAPIAuth(t *testing.T) {
	if newEnv(t).bridge.AdminHandler() != nil {
		t.Fatal("admin API must be off without a token")
	}
	_, a := adminEnv(t)
	status, h, body := a.do(http.MethodGet, "/admin/tokens", "", nil)
	if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || body["error"] == nil {
		t.Fatalf("no token: %d %v %v", status, h, body)
	}
	status, h, body = a.do(http.MethodGet, "/admin/tokens", adminToken+"x", nil)
	if status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) || body["error"] != "invalid_token" {
		t.Fatalf("wrong token: %d %v %v", status, h, body)
	}
	status, _, _ = a.do(http.MethodPost, "/admin/clients/web/rotate-secret", "short", nil)
	if status != http.StatusUnauthorized {
		t.Fatalf("wrong token on a write: %d", status)
	}
	if h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("headers: %v", h)
	}
}

// TestAdminAPITokensAndSessions lists and revokes a member's grants and sessions by login,
// by client and by id; every action is audited.
func TestAdminAPITokensAndSessions(t *testing.T) {
	e, a := adminEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	tok, err := web.Exchange(e.ctx(), e.signIn(e.browser(), web.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	otok, err := other.Exchange(e.ctx(), e.signIn(e.browser(), other.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}

	list := a.ok(http.MethodGet, "/admin/tokens?login=alice", nil)["tokens"].([]any)
	if len(list) != 2 {
		t.Fatalf("alice's grants: %v", list)
	}
	first := list[0].(map[string]any)
	if first["login"] != "alice" || first["id"] == "" {
		t.Fatalf("grant: %v", first)
	}
	if l := a.ok(http.MethodGet, "/admin/tokens?client=other", nil)["tokens"].([]any); len(l) != 1 {
		t.Fatalf("grants of client other: %v", l)
	}
	// Revoke by login and client: only that app's grant goes.
	if n := a.ok(http.MethodPost, "/admin/tokens/revoke", map[string]string{"login": "alice", "client": "web"})["revoked"]; n != 1.0 {
		t.Fatalf("revoked %v", n)
	}
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := web.TokenSource(e.ctx(), tok).Token(); err == nil {
		t.Fatal("revoked grant still refreshes")
	}
	// Revoke by id.
	l := a.ok(http.MethodGet, "/admin/tokens?login=alice", nil)["tokens"].([]any)
	id := l[0].(map[string]any)["id"].(string)
	if n := a.ok(http.MethodPost, "/admin/tokens/revoke", map[string]string{"id": id})["revoked"]; n != 1.0 {
		t.Fatalf("revoke by id: %v", n)
	}
	otok.Expiry = time.Now().Add(-time.Hour)
	if _, err := other.TokenSource(e.ctx(), otok).Token(); err == nil {
		t.Fatal("grant revoked by id still refreshes")
	}
	if status, _, body := a.do(http.MethodPost, "/admin/tokens/revoke", adminToken, map[string]string{}); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("revoke everything by accident: %d %v", status, body)
	}
	if status, _, _ := a.do(http.MethodPost, "/admin/tokens/revoke", adminToken, map[string]string{"id": "nope"}); status != 404 {
		t.Fatalf("unknown grant: %d", status)
	}
	if status, _, _ := a.do(http.MethodGet, "/admin/tokens?login=nobody", adminToken, nil); status != 404 {
		t.Fatalf("unknown login: %d", status)
	}

	// Sessions: two browsers signed in, end one by id, the other by login.
	sessions := a.ok(http.MethodGet, "/admin/sessions?login=alice", nil)["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("alice's sessions: %v", sessions)
	}
	if l := a.ok(http.MethodGet, "/admin/sessions?client=other", nil)["sessions"].([]any); len(l) != 1 {
		t.Fatalf("sessions of client other: %v", l)
	}
	sid := sessions[0].(map[string]any)["id"].(string)
	if n := a.ok(http.MethodPost, "/admin/sessions/revoke", map[string]string{"id": sid})["ended"]; n != 1.0 {
		t.Fatalf("end by id: %v", n)
	}
	if n := a.ok(http.MethodPost, "/admin/sessions/revoke", map[string]string{"login": "alice"})["ended"]; n != 1.0 {
		t.Fatalf("end by login: %v", n)
	}
	if l := a.ok(http.MethodGet, "/admin/sessions", nil)["sessions"].([]any); len(l) != 0 {
		t.Fatalf("sessions left: %v", l)
	}
	for _, ev := range []string{"admin.tokens_list", "admin.tokens_revoke", "admin.sessions_list", "admin.sessions_revoke"} {
		got, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: ev})
		if err != nil || len(got) == 0 || !strings.Contains(got[0].Detail, "admin-api@") {
			t.Fatalf("audit %s: %v %v", ev, got, err)
		}
	}
}

// TestAdminAPIClients creates a service client (secret shown once, usable at once), rotates its
// secret, deletes it; static clients are read-only.
func TestAdminAPIClients(t *testing.T) {
	e, a := adminEnv(t)
	created := a.ok(http.MethodPost, "/admin/clients", map[string]any{"id": "reports", "name": "Reports",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"reports.read"}, "access_token_format": "jwt"})
	secret, _ := created["client_secret"].(string)
	if secret == "" || created["secret_hash"] != nil || created["has_secret"] != true {
		t.Fatalf("created client: %v", created)
	}
	cc := &clientcredentials.Config{ClientID: "reports", ClientSecret: secret, TokenURL: tokenURL(e)}
	// The admin API answers after its change notification refreshed the server's registry: the
	// new client, and below the rotated secret, are in use at once (no wait for the lone
	// server's 2 s version check on lookup, which would hide a notification that went missing).
	if _, err := cc.Token(e.ctx()); err != nil {
		t.Fatalf("new client's secret: %v", err)
	}
	shown := a.ok(http.MethodGet, "/admin/clients/reports", nil)
	if shown["client_secret"] != nil || shown["secret_hash"] != nil || shown["source"] != "store" {
		t.Fatalf("show leaks or mislabels: %v", shown)
	}
	if l := a.ok(http.MethodGet, "/admin/clients", nil)["clients"].([]any); len(l) < 2 {
		t.Fatalf("clients: %v", l)
	}
	rotated := a.ok(http.MethodPost, "/admin/clients/reports/rotate-secret", nil)["client_secret"].(string)
	if rotated == "" || rotated == secret {
		t.Fatal("rotate-secret must return a new secret")
	}
	if _, err := cc.Token(e.ctx()); err == nil {
		t.Fatal("old secret still works after rotation")
	}
	cc.ClientSecret = rotated
	if _, err := cc.Token(e.ctx()); err != nil {
		t.Fatalf("rotated secret: %v", err)
	}
	if status, _, body := a.do(http.MethodDelete, "/admin/clients/web", adminToken, nil); status != http.StatusConflict {
		t.Fatalf("deleting a static client: %d %v", status, body)
	}
	if status, _, body := a.do(http.MethodPost, "/admin/clients", adminToken, map[string]any{"id": "bad", "public": true,
		"grant_types": []string{"client_credentials"}}); status != 400 {
		t.Fatalf("invalid client: %d %v", status, body)
	}
	a.ok(http.MethodDelete, "/admin/clients/reports", nil)
	if status, _, _ := a.do(http.MethodGet, "/admin/clients/reports", adminToken, nil); status != 404 {
		t.Fatalf("deleted client still shown: %d", status)
	}
	for _, ev := range []string{"admin.client_add", "admin.client_rotate_secret", "admin.client_remove"} {
		if got, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: ev}); len(got) != 1 || got[0].ClientID != "reports" {
			t.Fatalf("audit %s: %v", ev, got)
		}
	}
}
