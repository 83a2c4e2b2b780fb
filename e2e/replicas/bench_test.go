package replicas

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// BenchmarkRefreshReplicas: refresh grants from concurrent clients (one refresh-token family
// each) on one replica, then spread over two, both on the same PostgreSQL database, on this
// machine (replicas, PostgreSQL and the clients share its cores).
//
//	SSOBRIDGE_TEST_POSTGRES_DSN=... go test ./e2e/replicas -run '^$' -bench RefreshReplicas -benchtime 2000x
func BenchmarkRefreshReplicas(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(map[int]string{1: "replicas=1", 2: "replicas=2"}[n], func(b *testing.B) {
			benchRefresh(b, n)
		})
	}
}

func benchRefresh(b *testing.B, n int) {
	e := newEnv(b, 2, "")
	cfg, _ := e.oauth()
	br := bridgetest.NewBrowser(b, e.issuer)
	const families = 64
	pool := make(chan string, families)
	for i := range families {
		code := e.signIn(br, cfg)
		st, body := token(b, e.replicas[i%2].url, codeForm2(code, cfg.RedirectURL))
		if st != http.StatusOK {
			b.Fatalf("exchange: %d %v", st, body)
		}
		pool <- body["refresh_token"].(string)
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-pool
		for pb.Next() {
			r := e.replicas[int(next.Add(1))%n]
			_, nt, err := refresh(r.url, rt)
			if err != nil {
				b.Error(err)
				return
			}
			rt = nt
		}
	})
}
