package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestMetricsCountUpstreamSignIns: signins_total counts sign-ins through an upstream provider
// (method upstream) by outcome, not only password checks (hand-offs: TestMetricsCountHandoffs).
func TestMetricsCountUpstreamSignIns(t *testing.T) {
	type delta struct {
		series string
		want   float64
	}
	check := func(t *testing.T, before, after scrape, ds []delta) {
		t.Helper()
		for _, d := range ds {
			if got := after[d.series] - before[d.series]; got != d.want {
				t.Errorf("%s: changed by %v, want %v", d.series, got, d.want)
			}
		}
	}

	t.Run("upstream", func(t *testing.T) {
		ams := bridgetest.NewDirectory()
		f := newFederationOver(t, ams, func(p *upstream.ProviderConfig) { p.LinkByEmail = true })
		m := httptest.NewServer(f.down.bridge.Metrics().Handler())
		t.Cleanup(m.Close)
		before, _ := scrapeMetrics(t, m.URL)

		b := newHTTPFed(t, f)
		if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); !strings.HasPrefix(p.Location, f.rp.srv.URL) {
			t.Fatalf("upstream sign-in did not reach the app: %d %q %.400s", p.Status, p.Location, p.Body)
		}
		ams.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
		other := newHTTPFed(t, f)
		if p := other.do(http.MethodGet, other.toCallback(f, "corp").String(), nil); p.Status != http.StatusForbidden {
			t.Fatalf("disabled member through the upstream: %d", p.Status)
		}
		after, _ := scrapeMetrics(t, m.URL)
		check(t, before, after, []delta{
			{`ssobridge_signins_total{method="upstream",outcome="ok"}`, 1},
			{`ssobridge_signins_total{method="upstream",outcome="disabled"}`, 1},
			{`ssobridge_signins_total{method="password",outcome="ok"}`, 0},
		})
	})
}
