package sso_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// downStore is a store whose database can be taken away: every token read and write then
// fails with sso.ErrUnavailable, as the PostgreSQL store's do when the server is unreachable.
type downStore struct {
	*memstore.Store
	down *atomic.Bool
}

func (s downStore) unavailable(op string) error {
	return fmt.Errorf("store: %s: %w: connection refused", op, sso.ErrUnavailable)
}

func (s downStore) Family(ctx context.Context, id string) (*sso.RefreshToken, error) {
	if s.down.Load() {
		return nil, s.unavailable("family")
	}
	return s.Store.Family(ctx, id)
}

func (s downStore) IssueTokens(ctx context.Context, in sso.Issue) error {
	if s.down.Load() {
		return s.unavailable("issue tokens")
	}
	return s.Store.IssueTokens(ctx, in)
}

func (s downStore) AuthRequestByCode(ctx context.Context, codeHash string) (*sso.AuthRequest, error) {
	if s.down.Load() {
		return nil, s.unavailable("auth request by code")
	}
	return s.Store.AuthRequestByCode(ctx, codeHash)
}

// TestTokenEndpointStoreUnavailable: a grant the store cannot serve is answered 503
// temporarily_unavailable with Retry-After, never invalid_grant (a client would throw its
// refresh token or code away and sign its user out) nor a bare 500; once the store is back the
// same refresh token and the same code work.
func TestTokenEndpointStoreUnavailable(t *testing.T) {
	var down atomic.Bool
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store { return downStore{Store: st, down: &down} })
	tok := h.tokens("alice", "openid", "offline_access")
	code, verifier := h.code("alice", "openid", "offline_access")
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}

	down.Store(true)
	for name, form := range map[string]url.Values{"refresh": refresh, "code": exchange} {
		status, body, header := h.token(form, "web:"+webSecret)
		if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || header.Get("Retry-After") == "" {
			t.Fatalf("%s while the store is unavailable: %d %v (Retry-After %q)", name, status, body, header.Get("Retry-After"))
		}
	}
	down.Store(false)
	for name, form := range map[string]url.Values{"refresh": refresh, "code": exchange} {
		if status, body, _ := h.token(form, "web:"+webSecret); status != http.StatusOK {
			t.Fatalf("%s once the store is back: %d %v", name, status, body)
		}
	}
}

// TestRevocationStoreUnavailable: an access token's revocation the store cannot check is
// answered as the server's error, not 200 (RFC 7009 2.2's answer for an invalid token, which
// would tell the client the token is dead while it still works); once the store is back the
// same request revokes it.
func TestRevocationStoreUnavailable(t *testing.T) {
	var down atomic.Bool
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store { return downStore{Store: st, down: &down} })
	tok := h.tokens("alice", "openid", "offline_access")
	revoke := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	down.Store(true)
	resp := h.post(sso.PathRevoke, revoke, "web:"+webSecret)
	body := decodeJSON(t, resp)
	if resp.StatusCode == http.StatusOK || body["error"] != "server_error" {
		t.Fatalf("revocation while the store is unavailable: %d %v", resp.StatusCode, body)
	}
	down.Store(false)
	if resp := h.post(sso.PathRevoke, revoke, "web:"+webSecret); resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation once the store is back: %d", resp.StatusCode)
	}
	resp = h.post(sso.PathIntrospect, url.Values{"token": {tok.AccessToken}}, "web:"+webSecret)
	if body := decodeJSON(t, resp); body["active"] != false {
		t.Fatalf("introspection after the revocation: %v", body)
	}
}

// TestIntrospectionStoreUnavailableLogged (end-of-session review s13 RV1-3, review s25 Y-1):
// introspection of a token the store cannot check is the server's fault, not a verdict on the
// token: 503 temporarily_unavailable with Retry-After (was {"active":false}, which told every
// resource server its tokens were dead during a store outage), and one WARN line naming the
// cause for the operator, without the token. A token that is merely inactive logs nothing.
func TestIntrospectionStoreUnavailableLogged(t *testing.T) {
	var down atomic.Bool
	var logs bytes.Buffer
	var mu sync.Mutex
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store { return downStore{Store: st, down: &down} },
		func(c *sso.Config) { c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)) })
	tok := h.tokens("alice", "openid", "offline_access")
	introspect := func(token string) (*http.Response, map[string]any) {
		resp := h.post(sso.PathIntrospect, url.Values{"token": {token}}, "web:"+webSecret)
		return resp, decodeJSON(t, resp)
	}
	logged := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }

	if _, body := introspect("not-a-token"); body["active"] != false {
		t.Fatalf("an unknown token: %v", body)
	}
	if strings.Contains(logged(), "introspection") {
		t.Fatalf("an inactive token was logged as a failure: %s", logged())
	}
	down.Store(true)
	resp, body := introspect(tok.AccessToken)
	if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" ||
		resp.Header.Get("Retry-After") == "" || body["active"] != nil {
		t.Fatalf("introspection while the store is unavailable: %d %v (Retry-After %q), want 503 temporarily_unavailable",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if l := logged(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "introspection: the token could not be checked") ||
		!strings.Contains(l, "connection refused") || strings.Contains(l, tok.AccessToken) {
		t.Fatalf("the store failure is not logged as one WARN line naming it (or the token is in it): %q", l)
	}
	down.Store(false)
	if _, body := introspect(tok.AccessToken); body["active"] != true {
		t.Fatalf("introspection once the store is back: %v", body)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
