package bridge_test

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
)

// serve runs one request in-process against the bridge's handler.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.bridge.Handler().ServeHTTP(rec, req)
	return rec
}

// BenchmarkDiscovery and BenchmarkJWKS measure a public document: "listener" through a real
// listener and net/http (8 keep-alive connections, the client's CPU counted in cpu-ns/op too),
// "inprocess" the handler alone (httptest recorder).
func BenchmarkDiscovery(b *testing.B) { benchPublicDoc(b, "/.well-known/openid-configuration") }

func BenchmarkJWKS(b *testing.B) { benchPublicDoc(b, "/keys") }

func benchPublicDoc(b *testing.B, path string) {
	e := newEnv(b)
	b.Run("listener", func(b *testing.B) {
		u, err := url.Parse(e.issuer)
		if err != nil {
			b.Fatal(err)
		}
		raw := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: bench\r\n\r\n")
		b.ReportAllocs()
		b.SetParallelism(8)
		cpu := benchcpu.Start()
		b.RunParallel(func(pb *testing.PB) {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for pb.Next() {
				if _, err := conn.Write(raw); err != nil {
					b.Error(err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("%s: %d", path, resp.StatusCode)
					return
				}
			}
		})
		cpu.Report(b)
	})
	b.Run("inprocess", func(b *testing.B) {
		b.ReportAllocs()
		cpu := benchcpu.Start()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodGet, e.issuer+path, nil)
				if rec := e.serve(req); rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
		cpu.Report(b)
	})
}

func tokenReq(e *env, form url.Values, id, secret string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return req
}

// BenchmarkCodeExchange measures the token endpoint's authorization_code grant (codes are
// minted by the real login flow outside the timer, in batches).
func BenchmarkCodeExchange(b *testing.B) {
	// Every code is minted from one address: lift the anonymous-write budget.
	e := newEnv(b, func(c *bridge.Config) { c.Throttle.AnonymousWrites = 1 << 30 })
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	br := e.browser()
	e.signIn(br, web.AuthCodeURL("s"), "alice", "alice-password")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		code := br.Get(web.AuthCodeURL("s")).Redirected(b).Get("code")
		b.StartTimer()
		rec := e.serve(tokenReq(e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + "/callback"}}, "web", webSecret))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func benchRefresh(b *testing.B, deps envDeps, clientID, secret, redirect string) {
	e := newEnvDeps(b, false, nil, deps)
	cfg, _ := e.oauth(clientID, secret, redirect, oauth2.AuthStyleInHeader)
	br := e.browser()
	tok, err := cfg.Exchange(e.ctx(), e.signIn(br, cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchcpu.Start()
	defer cpu.Report(b)
	for i := 0; i < b.N; i++ {
		rec := e.serve(tokenReq(e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, clientID, secret))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		body := rec.Body.String()
		i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
		rt = body[i : i+strings.IndexByte(body[i:], '"')]
	}
}

// BenchmarkRefreshGrant is one full refresh grant: client auth, family check, member re-check,
// rotation in one transaction, an opaque access token and one signed ID token. RS256 and ES256
// run on SQLite; postgres/RS256 and postgres/ES256 on PostgreSQL when
// SSOBRIDGE_TEST_POSTGRES_DSN is set (a fresh database each).
func BenchmarkRefreshGrant(b *testing.B) {
	otel.SetTracerProvider(noop.NewTracerProvider()) // as cmd/ssobridge's main does
	stores := []struct {
		prefix string
		deps   envDeps
	}{{"", envDeps{}}, {"postgres/", onPostgres("")}}
	for _, st := range stores {
		if st.deps.store != nil && os.Getenv(pgtest.EnvDSN) == "" {
			continue
		}
		b.Run(st.prefix+"RS256", func(b *testing.B) { benchRefresh(b, st.deps, "web", webSecret, "http://127.0.0.1:9/app/callback") })
		b.Run(st.prefix+"ES256", func(b *testing.B) { benchRefresh(b, st.deps, "other", otherSecret, "http://127.0.0.1:9/app/other") })
	}
}

// BenchmarkSignBaseline is the raw signing cost the refresh grant cannot go below.
func BenchmarkSignBaseline(b *testing.B) {
	digest := sha256.Sum256([]byte("header.payload"))
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b.Run("RS256", func(b *testing.B) {
		defer benchcpu.Start().Report(b)
		for i := 0; i < b.N; i++ {
			if _, err := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ES256", func(b *testing.B) {
		defer benchcpu.Start().Report(b)
		for i := 0; i < b.N; i++ {
			if _, err := ecdsa.SignASN1(rand.Reader, ek, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFullLogin is one complete sign-in as a new browser: /authorize, the login page, the
// form POST (the password check against the directory), the redirect with a code, and the code
// exchanged for tokens (one signed ID token). The client side (cookie jar, HTTP client on
// 127.0.0.1) is inside the timer too: compare runs, not absolute figures.
// Like BenchmarkRefreshGrant, postgres/... runs on PostgreSQL when the DSN is set.
func BenchmarkFullLogin(b *testing.B) {
	otel.SetTracerProvider(noop.NewTracerProvider()) // as cmd/ssobridge's main does
	type loginCase struct {
		name, id, secret, redirect string
		deps                       envDeps
	}
	cases := []loginCase{
		{"RS256", "web", webSecret, "/callback", envDeps{}},
		{"ES256", "other", otherSecret, "/other", envDeps{}},
	}
	if os.Getenv("SSOBRIDGE_BENCH_SHARED_THROTTLE") != "" {
		// The throttle's counters in SQLite instead of memory: what README "Throttling" weighs.
		cases = append(cases, loginCase{"sqlite-counters/RS256", "web", webSecret, "/callback", envDeps{sharedThrottles: true}})
	}
	if os.Getenv(pgtest.EnvDSN) != "" {
		cases = append(cases, loginCase{"postgres/RS256", "web", webSecret, "/callback", onPostgres("")},
			loginCase{"postgres/ES256", "other", otherSecret, "/other", onPostgres("")})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newEnvDeps(b, false, nil, c.deps, func(cfg *bridge.Config) { cfg.Throttle.AnonymousWrites = 1 << 30 })
			cfg, _ := e.oauth(c.id, c.secret, e.rp+c.redirect, oauth2.AuthStyleInHeader)
			b.ReportAllocs()
			b.ResetTimer()
			defer benchcpu.Start().Report(b)
			for i := 0; i < b.N; i++ {
				code := e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password")
				if _, err := cfg.Exchange(e.ctx(), code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
