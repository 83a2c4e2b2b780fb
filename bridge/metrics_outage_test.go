package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// outboxDownStore is the SQLite store whose outbox backlog cannot be read while down is set
// (what a scrape reads from the store).
type outboxDownStore struct {
	*sqlite.Store
	down atomic.Bool
}

func (s *outboxDownStore) OutboxTargets(ctx context.Context) ([]store.OutboxTarget, error) {
	if s.down.Load() {
		return nil, fmt.Errorf("sqlite: outbox targets: %w: connection refused", sso.ErrUnavailable)
	}
	return s.Store.OutboxTargets(ctx)
}

// TestMetricsDuringOutage: with the store and the AMS down, /metrics keeps answering (200,
// the series it can read) and the whole outage is one warning when it starts and one
// information line when it ends, however many scrapes happen in between.
func TestMetricsDuringOutage(t *testing.T) {
	var out lockedBuffer
	log := logging.New(&out, logging.FormatJSON, slog.LevelInfo)
	st := &outboxDownStore{}
	e := newEnvDeps(t, false, nil, envDeps{logger: log, store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st.Store = s
		return st
	}}, withAdmin)
	admin := e.adminServer()

	levels := func(from int) (lv []string, msgs []string) {
		for _, raw := range strings.Split(strings.TrimSpace(out.String()[from:]), "\n") {
			var l struct{ Level, Msg string }
			if raw == "" || json.Unmarshal([]byte(raw), &l) != nil {
				continue
			}
			if l.Level != "INFO" || strings.HasPrefix(l.Msg, "metrics:") {
				lv, msgs = append(lv, l.Level), append(msgs, l.Msg)
			}
		}
		return lv, msgs
	}
	scrapeN := func(n int) {
		for range n {
			got, _ := scrapeMetrics(t, admin.URL) // fails the test unless 200
			if _, ok := got[`ssobridge_signing_key_age_seconds{alg="RS256"}`]; !ok {
				t.Fatal("the key series are missing")
			}
		}
	}

	scrapeN(1)
	mark := len(out.String())
	st.down.Store(true)
	e.dir.Down = true
	scrapeN(5)
	if lv, msgs := levels(mark); fmt.Sprint(lv) != "[WARN]" {
		t.Errorf("5 scrapes during an outage logged %v %q, want one warning", lv, msgs)
	}
	mark = len(out.String())
	st.down.Store(false)
	e.dir.Down = false
	scrapeN(3)
	if lv, msgs := levels(mark); fmt.Sprint(lv) != "[INFO]" {
		t.Errorf("the outage's end logged %v %q, want one information line", lv, msgs)
	}
}
