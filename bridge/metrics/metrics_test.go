package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
)

// TestClientLabelsAreBounded: past MaxClients distinct clients, further ones count as "other".
func TestClientLabelsAreBounded(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{Version: "test"})
	for i := range metrics.MaxClients + 10 {
		m.TokenIssued(context.Background(), "client_credentials", fmt.Sprintf("c%d", i))
	}
	m.TokenIssued(context.Background(), "client_credentials", "c0") // seen before: its own label
	body := scrape(t, m)
	if n := strings.Count(body, "ssobridge_tokens_issued_total{"); n != metrics.MaxClients+1 {
		t.Fatalf("%d token series, want %d", n, metrics.MaxClients+1)
	}
	if !strings.Contains(body, `ssobridge_tokens_issued_total{client="other",grant_type="client_credentials"} 10`) ||
		!strings.Contains(body, `ssobridge_tokens_issued_total{client="c0",grant_type="client_credentials"} 2`) {
		t.Fatal("other / c0 counts wrong")
	}
}

// TestRequestLabels: unknown methods and unmatched routes fold into fixed values.
func TestRequestLabels(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	m.ObserveRequest("", "BREW", 404, time.Millisecond)
	m.ObserveRequest("/login", "POST", 200, time.Millisecond)
	m.ObserveRequest("/login", "POST", 200, time.Millisecond)
	body := scrape(t, m)
	for _, want := range []string{
		`ssobridge_http_requests_total{code="404",method="other",route="unmatched"} 1`,
		`ssobridge_http_requests_total{code="200",method="POST",route="/login"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// TestObserveRoute: a route's function (ObserveRoute) counts into the series ObserveRequest
// counts into, by method and status, unknown methods folded as ObserveRequest folds them, from
// several goroutines at once.
func TestObserveRoute(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	keys := m.ObserveRoute("/keys")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			keys(http.MethodGet, http.StatusOK, time.Millisecond)
			keys(http.MethodGet, http.StatusNotModified, time.Millisecond)
			keys("BREW", http.StatusMethodNotAllowed, time.Millisecond)
		})
	}
	wg.Wait()
	keys(http.MethodHead, http.StatusOK, time.Millisecond)
	m.ObserveRequest("/keys", http.MethodGet, http.StatusOK, time.Millisecond)
	m.ObserveRoute("")(http.MethodGet, http.StatusNotFound, time.Millisecond)
	body := scrape(t, m)
	for _, want := range []string{
		`ssobridge_http_requests_total{code="200",method="GET",route="/keys"} 5`,
		`ssobridge_http_requests_total{code="304",method="GET",route="/keys"} 4`,
		`ssobridge_http_requests_total{code="405",method="other",route="/keys"} 4`,
		`ssobridge_http_requests_total{code="200",method="HEAD",route="/keys"} 1`,
		`ssobridge_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`ssobridge_http_request_duration_seconds_count{method="GET",route="/keys"} 9`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// TestScrapeTimeCollectors: cache counters, keys and the outbox are read at scrape time; an
// outbox that cannot be read leaves its series out.
func TestScrapeTimeCollectors(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hits := int64(3)
	m.CacheStats(func() (int64, int64) { return hits, 1 })
	m.Keys(func() []metrics.Key {
		return []metrics.Key{{Algorithm: "RS256", Created: now.Add(-time.Hour), SignUntil: now.Add(2 * time.Hour)}}
	}, func() time.Time { return now })
	fail := false
	m.Outbox(func(context.Context) ([]metrics.OutboxTarget, error) {
		if fail {
			return nil, errors.New("store down")
		}
		return []metrics.OutboxTarget{{Channel: "scim", Client: "portal", Pending: 2, Oldest: now.Add(-time.Minute), DeadLetter: 1}}, nil
	}, func() time.Time { return now }, time.Second, slog.New(slog.DiscardHandler))
	if n, err := testutil.GatherAndCount(m.Registry(), "ssobridge_ams_cache_hits_total"); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	body := scrape(t, m)
	for _, want := range []string{
		"ssobridge_ams_cache_hits_total 3", "ssobridge_ams_cache_misses_total 1",
		`ssobridge_signing_key_age_seconds{alg="RS256"} 3600`, `ssobridge_signing_key_next_rotation_seconds{alg="RS256"} 7200`,
		`ssobridge_outbox_pending{channel="scim",client="portal"} 2`, `ssobridge_outbox_oldest_pending_age_seconds{channel="scim",client="portal"} 60`,
		`ssobridge_outbox_dead_letters{channel="scim",client="portal"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	fail = true
	if strings.Contains(scrape(t, m), "ssobridge_outbox_pending") {
		t.Error("outbox series despite the read failure")
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestOutboxOutageLoggedOnce: while the outbox cannot be read (the store down) every scrape
// still answers, without the outbox series, and the outage is logged once as a warning when it
// starts and once as an information line when it ends, not at every scrape.
func TestOutboxOutageLoggedOnce(t *testing.T) {
	var out strings.Builder
	m := metrics.New(metrics.BuildInfo{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.Keys(func() []metrics.Key {
		return []metrics.Key{{Algorithm: "RS256", Created: now.Add(-time.Hour), SignUntil: now.Add(2 * time.Hour)}}
	}, func() time.Time { return now })
	fail := false
	m.Outbox(func(context.Context) ([]metrics.OutboxTarget, error) {
		if fail {
			return nil, errors.New("store down")
		}
		return []metrics.OutboxTarget{{Channel: "scim", Client: "portal", Pending: 2}}, nil
	}, func() time.Time { return now }, time.Second, slog.New(slog.NewTextHandler(&out, nil)))

	for i, step := range []struct {
		fail  bool
		lines []string // the levels logged by this scrape
	}{
		{false, nil},
		{true, []string{"WARN"}},
		{true, nil},
		{true, nil},
		{false, []string{"INFO"}},
		{false, nil},
		{true, []string{"WARN"}},
	} {
		fail = step.fail
		out.Reset()
		now = now.Add(15 * time.Second)
		body := scrape(t, m)
		if !strings.Contains(body, "ssobridge_signing_key_age_seconds") {
			t.Errorf("scrape %d: the other series are missing", i)
		}
		if has := strings.Contains(body, "ssobridge_outbox_pending"); has == step.fail {
			t.Errorf("scrape %d: outbox series present %v with the store down %v", i, has, step.fail)
		}
		var levels []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if _, rest, ok := strings.Cut(l, "level="); ok {
				levels = append(levels, strings.Fields(rest)[0])
			}
		}
		if fmt.Sprint(levels) != fmt.Sprint(step.lines) {
			t.Errorf("scrape %d (store down %v): logged %v, want %v:\n%s", i, step.fail, levels, step.lines, out.String())
		}
		if i == 4 && !strings.Contains(out.String(), "failures=3 for=45s") {
			t.Errorf("the end of the outage does not say how long it lasted: %s", out.String())
		}
	}
}

// TestStoreWrites: the group commit's counters become a histogram of writes per commit and
// the failed and retried transactions.
func TestStoreWrites(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	m.StoreWrites(func() metrics.StoreWrites {
		return metrics.StoreWrites{Bounds: []float64{1, 2, 4}, Commits: []int64{5, 0, 2}, Writes: 12, Failed: 3,
			RetriedAfterWrite: 1, RetriedAfterCommit: 2}
	})
	body := scrape(t, m)
	for _, want := range []string{
		`ssobridge_store_writes_per_commit_bucket{le="1"} 5`,
		`ssobridge_store_writes_per_commit_bucket{le="2"} 5`,
		`ssobridge_store_writes_per_commit_bucket{le="4"} 7`,
		`ssobridge_store_writes_per_commit_bucket{le="+Inf"} 7`,
		`ssobridge_store_writes_per_commit_sum 12`,
		`ssobridge_store_writes_per_commit_count 7`,
		`ssobridge_store_write_transactions_failed_total 3`,
		`ssobridge_store_write_batch_retries_total{cause="write"} 1`,
		`ssobridge_store_write_batch_retries_total{cause="commit"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// BenchmarkObserve measures what the metrics cost a request (ObserveRequest: one counter and
// one histogram series; route: a document's, through its route's function, ObserveRoute) and a token response (TokenIssued), their series resolved already,
// alone and from every core at once.
func BenchmarkObserve(b *testing.B) {
	m := metrics.New(metrics.BuildInfo{})
	keys := m.ObserveRoute("/keys")
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"request", func() { m.ObserveRequest("/oauth/token", http.MethodPost, http.StatusOK, 3*time.Millisecond) }},
		{"route", func() { keys(http.MethodGet, http.StatusOK, 3*time.Millisecond) }},
		{"token", func() { m.TokenIssued(context.Background(), "refresh_token", "load-rs") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := benchcpu.Start()
			for b.Loop() {
				bc.f()
			}
			cpu.Report(b)
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			cpu := benchcpu.Start()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.f()
				}
			})
			cpu.Report(b)
		})
	}
}
