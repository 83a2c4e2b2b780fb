package backchannel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestNothingToSendIsSkippedNotDelivered (review s23 X2-2): a logout queued without reading its
// app (a sign-out's last try) whose app has no logout URI, or is gone, sends nothing; the queue
// records it skipped, with why, and counts it as outcome "skipped" in
// ssobridge_outbox_deliveries_total, and the administrator's outbox status shows it skipped. Before,
// it was marked delivered and counted as a delivery: the outbox and the metrics said a logout
// went to an app that was sent nothing.
func TestNothingToSendIsSkippedNotDelivered(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	for _, c := range []string{"spa", "gone"} {
		if err := db.Enqueue(ctx, &store.OutboxEvent{ID: "evt-" + c, Key: outbox.SessionKey(backchannel.Channel, c, "sub-1", "s-1"),
			Type: backchannel.Type, Channel: backchannel.Channel, ClientID: c, Subject: "sub-1", NextAttempt: now,
			Payload: []byte(`{"client_id":"` + c + `","sub":"sub-1","sid":"s-1","unread":true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New(metrics.BuildInfo{})
	d := &backchannel.Deliverer{Clients: clients{"spa": {ID: "spa"}}, Issuer: "https://sso.example.org",
		HTTP: outbox.NewSenders(5*time.Second, outbound.Options{}), Now: time.Now}
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: db, Logger: slog.New(slog.DiscardHandler), Observer: m,
		Channels: map[string]outbox.Deliverer{backchannel.Channel: d}})
	if n, err := q.DeliverDue(ctx); err != nil || n != 2 {
		t.Fatalf("DeliverDue = %d, %v; want both events", n, err)
	}

	for c, why := range map[string]string{"spa": "nothing to send: client spa has no backchannel_logout_uri",
		"gone": "nothing to send: client gone is not registered"} {
		e, err := db.OutboxEvent(ctx, "evt-"+c)
		if err != nil || e.State != store.OutboxSkipped || e.LastError != why {
			t.Errorf("%s's logout after delivery = %+v, %v; want skipped, saying %q", c, e, err, why)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var series []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "ssobridge_outbox_deliveries_total{") {
			series = append(series, l)
		}
	}
	want := []string{`ssobridge_outbox_deliveries_total{channel="backchannel",client="gone",outcome="skipped"} 1`,
		`ssobridge_outbox_deliveries_total{channel="backchannel",client="spa",outcome="skipped"} 1`}
	if strings.Join(series, "\n") != strings.Join(want, "\n") {
		t.Errorf("delivery series:\n%s\nwant:\n%s", strings.Join(series, "\n"), strings.Join(want, "\n"))
	}

	svc := &admin.Service{Records: db, Audit: func(context.Context, *store.AuditEvent) {}}
	st, err := svc.Outbox(ctx, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts[store.OutboxSkipped] != 2 || st.Counts[store.OutboxDelivered] != 0 || len(st.Targets) != 2 ||
		st.Targets[0].Skipped != 1 || st.Targets[1].Skipped != 1 {
		t.Fatalf("outbox status: counts %v, targets %+v; want two skipped (one per app), none delivered", st.Counts, st.Targets)
	}
}
