package metrics_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/metrics"
)

// TestOutboxSuperseded (brief s21 G2 item 2): superseded events are a gauge per target, read
// at scrape time, and a failed attempt that a newer event superseded is counted with the
// outcome "superseded".
func TestOutboxSuperseded(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.Outbox(func(context.Context) ([]metrics.OutboxTarget, error) {
		return []metrics.OutboxTarget{{Channel: "webhook", Client: "portal", Superseded: 3}}, nil
	}, func() time.Time { return now }, time.Second, slog.New(slog.DiscardHandler))
	m.Delivery("webhook", "portal", "superseded")
	body := scrape(t, m)
	for _, want := range []string{
		`ssobridge_outbox_superseded{channel="webhook",client="portal"} 3`,
		`ssobridge_outbox_deliveries_total{channel="webhook",client="portal",outcome="superseded"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}
