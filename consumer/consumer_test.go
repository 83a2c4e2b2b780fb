package consumer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	_ "modernc.org/sqlite"

	"github.com/ssobridge/ssobridge/consumer"
)

// op is a minimal OpenID provider: discovery and JWKS, and a signer for tokens.
type op struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
}

func newOP(t *testing.T) *op {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	o := &op{key: k}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": o.srv.URL, "jwks_uri": o.srv.URL + "/keys",
			"authorization_endpoint": o.srv.URL + "/authorize", "token_endpoint": o.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *op) sign(t *testing.T, typ string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithHeader("kid", "k1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: o.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return raw
}

func newConsumer(t *testing.T, o *op) (*consumer.Consumer, *sql.DB) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	c, err := consumer.New(context.Background(), consumer.Config{Issuer: o.srv.URL, ClientID: "app", DB: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, db
}

func (o *op) logoutClaims() map[string]any {
	return map[string]any{"iss": o.srv.URL, "aud": "app", "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(),
		"jti": rand.Text(), "sub": "sub-1", "sid": "sid-1",
		"events": map[string]any{consumer.BackChannelLogoutEvent: map[string]any{}}}
}

// TestVerifyLogoutToken: the validation rules of Back-Channel Logout 1.0 section 2.6.
func TestVerifyLogoutToken(t *testing.T) {
	o := newOP(t)
	c, _ := newConsumer(t, o)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		typ    string
		mutate func(m map[string]any)
		want   string
	}{
		{"valid", "logout+jwt", nil, ""},
		{"valid without typ", "", nil, ""},
		{"aud as array", "logout+jwt", func(m map[string]any) { m["aud"] = []string{"x", "app"} }, ""},
		{"only sid", "logout+jwt", func(m map[string]any) { delete(m, "sub") }, ""},
		{"wrong typ", "JWT", nil, "typ"},
		{"wrong issuer", "logout+jwt", func(m map[string]any) { m["iss"] = "https://evil.example" }, "iss"},
		{"other audience", "logout+jwt", func(m map[string]any) { m["aud"] = "other" }, "aud"},
		{"no iat", "logout+jwt", func(m map[string]any) { delete(m, "iat") }, "iat"},
		{"old iat", "logout+jwt", func(m map[string]any) { m["iat"] = time.Now().Add(-time.Hour).Unix() }, "iat"},
		{"expired", "logout+jwt", func(m map[string]any) { m["exp"] = time.Now().Add(-time.Hour).Unix() }, "expired"},
		{"no exp", "logout+jwt", func(m map[string]any) { delete(m, "exp") }, "exp"},
		{"no sub nor sid", "logout+jwt", func(m map[string]any) { delete(m, "sub"); delete(m, "sid") }, "neither"},
		{"nonce", "logout+jwt", func(m map[string]any) { m["nonce"] = "n" }, "nonce"},
		{"no events", "logout+jwt", func(m map[string]any) { delete(m, "events") }, "events"},
		{"event not an object", "logout+jwt", func(m map[string]any) { m["events"] = map[string]any{consumer.BackChannelLogoutEvent: "x"} }, "events"},
		{"no jti", "logout+jwt", func(m map[string]any) { delete(m, "jti") }, "jti"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := o.logoutClaims()
			if tc.mutate != nil {
				tc.mutate(m)
			}
			lt, err := c.VerifyLogoutToken(ctx, o.sign(t, tc.typ, m))
			if tc.want == "" {
				if err != nil || lt.SessionID != "sid-1" {
					t.Fatalf("VerifyLogoutToken: %+v, %v", lt, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyLogoutToken = %v, want an error about %s", err, tc.want)
			}
		})
	}
	// A token signed by another key.
	other := newOP(t)
	m := o.logoutClaims()
	if _, err := c.VerifyLogoutToken(ctx, other.sign(t, "logout+jwt", m)); err == nil {
		t.Fatal("a token signed by another key was accepted")
	}
	// Replay of a jti.
	raw := o.sign(t, "logout+jwt", m)
	if _, err := c.VerifyLogoutToken(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyLogoutToken(ctx, raw); err == nil || !strings.Contains(err.Error(), "jti") {
		t.Fatalf("replayed logout token: %v", err)
	}
}

// TestBackchannelLogoutEndsSessions: the handler ends the sessions of the sid only, and
// answers 400 to a bad token.
func TestBackchannelLogoutEndsSessions(t *testing.T) {
	o := newOP(t)
	c, db := newConsumer(t, o)
	ctx := context.Background()
	if err := c.UpsertUser(ctx, consumer.User{Subject: "sub-1", Login: "alice", Active: true, Roles: []string{"Member"}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{{"local-1", "sid-1"}, {"local-2", "sid-2"}} {
		if _, err := db.Exec(`INSERT INTO sso_sessions (id, subject, sid, created_at) VALUES (?, 'sub-1', ?, 0)`, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	h := c.BackchannelLogoutHandler()
	post := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/bcl", strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control: no-store")
		}
		return rec.Code
	}
	if code := post("garbage"); code != http.StatusBadRequest {
		t.Fatalf("bad token: %d", code)
	}
	if code := post(o.sign(t, "logout+jwt", o.logoutClaims())); code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}
	if _, err := c.Session(ctx, "local-1"); err != consumer.ErrNotFound {
		t.Fatalf("session of sid-1: %v", err)
	}
	if _, err := c.Session(ctx, "local-2"); err != nil {
		t.Fatalf("session of sid-2 ended too: %v", err)
	}
	var pw string
	db.QueryRow(`SELECT password_hash FROM sso_users WHERE subject = 'sub-1'`).Scan(&pw)
	if !strings.HasPrefix(pw, "!") || len(pw) < 64 {
		t.Fatalf("password hash %q is not an unusable random value", pw)
	}
}
