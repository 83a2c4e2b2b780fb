package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestDispatchFailuresSaidOnce: after a reconnect every subscriber is refreshed; when the
// database is gone again each fails for the same cause, and that is one log line naming the
// topics, not one line per topic (the replicas' outage test counted four).
func TestDispatchFailuresSaidOnce(t *testing.T) {
	var buf bytes.Buffer
	p := &Postgres{opt: PostgresOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil))}, subs: map[int]*pgSub{}}
	gone := errors.New("store temporarily unavailable")
	ok := 0
	for i, topic := range []string{"keys", "clients", "saml", "fine"} {
		fn := func(context.Context) error { return gone }
		if topic == "fine" {
			fn = func(context.Context) error { ok++; return nil }
		}
		p.subs[i] = &pgSub{topic: topic, fn: fn}
	}
	p.dispatch(t.Context(), "", 0)
	if ok != 1 {
		t.Fatalf("the healthy subscriber ran %d times, want 1", ok)
	}
	out := buf.String()
	if n := strings.Count(out, "refresh after a change failed"); n != 1 {
		t.Fatalf("%d lines for one dispatch, want 1:\n%s", n, out)
	}
	for _, topic := range []string{"keys", "clients", "saml"} {
		if !strings.Contains(out, topic) {
			t.Errorf("the line does not name topic %s:\n%s", topic, out)
		}
	}
	if strings.Contains(out, "fine") {
		t.Errorf("the line names the topic that did not fail:\n%s", out)
	}
}
