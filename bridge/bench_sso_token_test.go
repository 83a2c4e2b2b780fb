package bridge_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
)

// BenchmarkSSOLoginToken is BenchmarkLoginSteps' token step for a sign-in answered from the
// browser's live SSO session (a second app, no login form): op's authorize callback issued the
// code. Each iteration signs the same browser in again outside the timer (authorize, the
// callback) and times POST /oauth/token served in-process (client authentication, the code's
// request from the codeCache or read from the store, the grant written, one signed ID token).
// cpu-ns/op as in BenchmarkLoginSteps.
func BenchmarkSSOLoginToken(b *testing.B) {
	otel.SetTracerProvider(noop.NewTracerProvider())
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
		br := e.browser()
		// The login form's sign-in opens the session; one SSO sign-in and exchange warm up.
		if _, err := cfg.Exchange(e.ctx(), e.signIn(br, cfg.AuthCodeURL("s"), "alice", "alice-demo-1")); err != nil {
			b.Fatalf("sign-in: %v", err)
		}
		if _, err := cfg.Exchange(e.ctx(), e.signIn(br, cfg.AuthCodeURL("s"), "alice", "alice-demo-1")); err != nil {
			b.Fatalf("warm-up SSO sign-in: %v", err)
		}
		b.Run(alg.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				code := e.signIn(br, cfg.AuthCodeURL("s"), "alice", "alice-demo-1") // the live session: op's callback
				req := tokenReq(e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.rp + alg.redirect}}, alg.id, alg.secret)
				t0 := benchcpu.Process()
				b.StartTimer()
				rec := e.serve(req)
				b.StopTimer()
				cpu += benchcpu.Process() - t0
				if rec.Code != 200 {
					b.Fatalf("token: %d: %.500s", rec.Code, rec.Body)
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
