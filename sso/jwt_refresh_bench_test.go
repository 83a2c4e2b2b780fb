package sso_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/internal/benchcpu"
	"github.com/ssobridge/ssobridge/internal/rsasign"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// newJWTHarness is newHarness whose web client gets RFC 9068 JWT access tokens, with its RS256
// keys signing through libcrypto when openssl (keys.rsa_signer: openssl).
func newJWTHarness(t testing.TB, openssl bool) *harness {
	t.Helper()
	st := memstore.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = ln
	issuer := "http://" + ln.Addr().String()
	kc := sso.KeyConfig{Algorithms: []string{"RS256"}, EncryptionKey: make([]byte, 32), Logger: quiet}
	if openssl {
		lib, err := rsasign.Open()
		if err != nil {
			t.Skip(err)
		}
		kc.OpenSSL = lib
		kc.RequireOpenSSL = true
	}
	keys, err := sso.NewKeyManager(t.Context(), st, kc)
	if err != nil {
		t.Fatal(err)
	}
	clients := testClients()
	clients[0].AccessTokenFormat = "jwt"
	reg, err := sso.NewRegistry(t.Context(), st, clients, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, hooks, cfg := harnessParts(t, issuer)
	p, err := sso.New(cfg, st, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return &harness{t: t, p: p, store: st, hooks: hooks, srv: srv, reg: reg, issuer: issuer,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// BenchmarkJWTAccessTokenRefresh is BenchmarkRefreshGrant with a JWT access token (RS256) beside
// the ID token: two RSA signatures per refresh, by crypto/rsa (go) or libcrypto (openssl).
func BenchmarkJWTAccessTokenRefresh(b *testing.B) {
	for _, signer := range []string{"go", "openssl"} {
		b.Run(signer, func(b *testing.B) {
			h := newJWTHarness(b, signer == "openssl")
			refresh := newRefresher(h)
			refresh()
			b.ReportAllocs()
			b.ResetTimer()
			defer benchcpu.Start().Report(b)
			for i := 0; i < b.N; i++ {
				refresh()
			}
		})
	}
}

// TestJWTAccessTokenRefresh: the benchmark's refresh answers a JWT access token (at+jwt).
func TestJWTAccessTokenRefresh(t *testing.T) {
	h := newJWTHarness(t, true)
	tok := h.tokens("alice", "openid", "offline_access")
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("not a JWT access token: %s", tok.AccessToken)
	}
	newRefresher(h)()
}
