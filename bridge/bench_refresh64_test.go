package bridge_test

import (
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
)

// BenchmarkRefreshGrant64 is BenchmarkRefreshGrant from 64 goroutines at once, each rotating
// its own family (as wrk -c64 in scripts/loadtest does, without the sockets): it reports the
// latency of one grant, p50 and p99 (issue 14: p99 <= 5x p50 at 64 concurrent refreshes), and
// CPU per grant. Run it with -cpu 1 for the load runs' GOMAXPROCS=1; latencies include the
// time other processes had the core, so compare runs of the same moment.
func BenchmarkRefreshGrant64(b *testing.B) {
	otel.SetTracerProvider(noop.NewTracerProvider()) // as cmd/ssobridge's main does
	for _, c := range []struct{ name, id, secret, redirect string }{
		{"RS256", "web", webSecret, "http://127.0.0.1:9/app/callback"},
		{"ES256", "other", otherSecret, "http://127.0.0.1:9/app/other"},
	} {
		b.Run(c.name, func(b *testing.B) {
			const workers = 64
			e := newEnvDeps(b, false, nil, envDeps{}, func(cfg *bridge.Config) { cfg.Throttle.AnonymousWrites = 1 << 30 })
			cfg, _ := e.oauth(c.id, c.secret, c.redirect, oauth2.AuthStyleInHeader)
			tokens := make([]string, workers)
			for i := range tokens {
				tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
				if err != nil {
					b.Fatal(err)
				}
				tokens[i] = tok.RefreshToken
			}
			var (
				next    atomic.Int64
				wg      sync.WaitGroup
				latency = make([][]time.Duration, workers)
			)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Start()
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rt := tokens[w]
					for next.Add(1) <= int64(b.N) {
						// The request arrives, then waits its turn: a server's connection
						// goroutine parks between requests and is woken, behind the others, when
						// the next one comes in. Without the sockets it yields instead (or one
						// goroutine would run request after request until preempted), and the
						// wait counts, as it does for a client.
						start := time.Now()
						runtime.Gosched()
						rec := e.serve(tokenReq(e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.id, c.secret))
						latency[w] = append(latency[w], time.Since(start))
						if rec.Code != 200 {
							b.Errorf("%d %s", rec.Code, rec.Body)
							return
						}
						body := rec.Body.String()
						i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
						rt = body[i : i+strings.IndexByte(body[i:], '"')]
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			cpu.Report(b)
			all := slices.Concat(latency...)
			if len(all) == 0 {
				return
			}
			slices.Sort(all)
			p50, p99 := all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)]
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(p99)/float64(p50), "p99/p50")
		})
	}
}
