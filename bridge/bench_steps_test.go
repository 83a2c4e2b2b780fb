package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
)

// BenchmarkLoginSteps is BenchmarkFullLogin's sign-in split into its three round trips, each
// timed alone and served in-process (the bridge's handler on an httptest recorder: no
// listener, no client and no cookie jar in the timer), against the demo AMS (legacy/sqldir on
// the embedded demo database, as in scripts/loadtest):
//
//   - authorize: GET /authorize of a new browser (op's checks, the request stored and bound,
//     the login page);
//   - login: POST /login (CSRF, the request read, the password checked against the AMS, the
//     second-factor check, the session, audit row and completion with its code in one
//     transaction, the redirect);
//   - token: POST /oauth/token (client authentication, the code's request read, the grant
//     written, one signed ID token).
//
// The steps before the timed one run through a real browser outside the timer. cpu-ns/op is
// the process's CPU while the timed step ran, which takes in whatever else ran on the other
// processors meanwhile (the browser's connections closing, the collector): run it with
// GOMAXPROCS=1 (or under callgrind) to compare steps; allocs/op are the step's own either way.
// What a login costs beyond its signature is RS256 minus BenchmarkSignBaseline/RS256, or
// ES256's steps (an ECDSA signature is about 40 us).
func BenchmarkLoginSteps(b *testing.B) {
	otel.SetTracerProvider(noop.NewTracerProvider()) // as cmd/ssobridge's main does
	for _, alg := range []struct{ name, id, secret, redirect string }{
		{"RS256", "web", webSecret, "/callback"},
		{"ES256", "other", otherSecret, "/other"},
	} {
		d, _, err := demo.OpenDirectory(context.Background(), "")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		e := newEnvDeps(b, true, cache.Wrap(d, cache.Options{}), envDeps{}, func(cfg *bridge.Config) { cfg.Throttle.AnonymousWrites = 1 << 30 })
		cfg, _ := e.oauth(alg.id, alg.secret, e.rp+alg.redirect, oauth2.AuthStyleInHeader)
		issuer, err := url.Parse(e.issuer)
		if err != nil {
			b.Fatal(err)
		}
		// withCookies is req carrying the browser's cookies for the issuer, as its jar sends them.
		// One sign-in and exchange first, through the listener: what the first request of a
		// kind does once (keys, prepared statements, pages) stays out of every step's figures.
		warm, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-demo-1"))
		if err != nil || warm.AccessToken == "" {
			b.Fatalf("warm-up sign-in: %v", err)
		}
		withCookies := func(br *bridgetest.Browser, req *http.Request) *http.Request {
			for _, c := range br.Client.Jar.Cookies(issuer) {
				req.AddCookie(c)
			}
			return req
		}
		for _, step := range []string{"authorize", "login", "token"} {
			b.Run(alg.name+"/"+step, func(b *testing.B) {
				b.ReportAllocs()
				var cpu time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					br := e.browser()
					authURL := cfg.AuthCodeURL("s")
					var req *http.Request
					switch step {
					case "authorize":
						req = httptest.NewRequest(http.MethodGet, authURL, nil)
					case "login":
						f := br.Get(authURL).Hidden()
						form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-demo-1"}}
						req = httptest.NewRequest(http.MethodPost, e.issuer+"/login", strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req = withCookies(br, req)
					case "token":
						code := e.signIn(br, authURL, "alice", "alice-demo-1")
						req = tokenReq(e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + alg.redirect}}, alg.id, alg.secret)
					}
					t0 := benchcpu.Process()
					b.StartTimer()
					rec := e.serve(req)
					b.StopTimer()
					cpu += benchcpu.Process() - t0
					br.Client.CloseIdleConnections() // no keep-alive connection and its goroutines left behind
					switch want := map[string]int{"authorize": 200, "login": 303, "token": 200}[step]; {
					case rec.Code == want:
					case step == "login" && rec.Code == 302:
					default:
						b.Fatalf("%s: %d, want %d: %.500s", step, rec.Code, want, rec.Body)
					}
					if step == "login" && !strings.Contains(rec.Header().Get("Location"), "code=") {
						b.Fatalf("login: no code in the redirect %q", rec.Header().Get("Location"))
					}
					b.StartTimer()
				}
				b.StopTimer()
				if b.N > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}
