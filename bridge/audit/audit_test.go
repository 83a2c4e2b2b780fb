package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

type memLog struct {
	events []*store.AuditEvent
	err    error
}

func (m *memLog) Audit(_ context.Context, e *store.AuditEvent) error {
	if m.err != nil {
		return m.err
	}
	m.events = append(m.events, e)
	return nil
}

func (m *memLog) count(event, detail string) int {
	n := 0
	for _, e := range m.events {
		if e.Event == event && e.Detail == detail {
			n++
		}
	}
	return n
}

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func TestWrite(t *testing.T) {
	var lines bytes.Buffer
	st := &memLog{}
	l := audit.New(st, slog.New(slog.NewTextHandler(&lines, nil)), func() time.Time { return now }, nil)
	l.Write(context.Background(), &store.AuditEvent{Event: "login.success", Subject: "sub-1", ClientID: "web", IP: "192.0.2.1"})
	given := now.Add(-time.Hour)
	l.Write(context.Background(), &store.AuditEvent{Event: "admin.client_add", Time: given})
	if len(st.events) != 2 || !st.events[0].Time.Equal(now) || !st.events[1].Time.Equal(given) {
		t.Fatalf("events %+v %+v", st.events[0], st.events[1])
	}
	if n := strings.Count(lines.String(), "msg=audit"); n != 2 || !strings.Contains(lines.String(), "event=login.success") {
		t.Fatalf("log lines:\n%s", lines.String())
	}
	// A store that fails: logged, not fatal.
	lines.Reset()
	st.err = errors.New("disk full")
	l.Write(context.Background(), &store.AuditEvent{Event: "login.success"})
	if !strings.Contains(lines.String(), "audit write failed") || !strings.Contains(lines.String(), "disk full") {
		t.Fatalf("failure not logged:\n%s", lines.String())
	}
}

// TestAnonymousBudget: rows of an anonymous caller are written within the address's budget
// (an IPv6 /64 is one address), then one ratelimit.refused row stands for the rest; another
// address has its own budget; a rate-limit refusal is written once per endpoint and address.
func TestAnonymousBudget(t *testing.T) {
	st := &memLog{}
	l := audit.New(st, slog.New(slog.DiscardHandler), nil, throttle.NewLimiter(3))
	ctx := context.Background()
	for i := range 10 {
		ip := fmt.Sprintf("2001:db8:1:2::%x", i+1)
		l.Anonymous(ctx, &store.AuditEvent{Event: "login.failure", IP: ip})
	}
	l.Anonymous(ctx, &store.AuditEvent{Event: "login.failure", IP: "192.0.2.9"})
	if n := st.count("login.failure", ""); n != 4 {
		t.Fatalf("%d login.failure rows, want 3 + 1 of another address", n)
	}
	if n := st.count("ratelimit.refused", "audit rows of failed sign-ins"); n != 1 {
		t.Fatalf("%d dropped-rows markers, want 1", n)
	}
	for range 5 {
		l.Refused(ctx, "authorize", "192.0.2.7")
	}
	l.Refused(ctx, "handoff", "192.0.2.7")
	if st.count("ratelimit.refused", "authorize") != 1 || st.count("ratelimit.refused", "handoff") != 1 {
		t.Fatalf("refusal rows: %d authorize, %d handoff", st.count("ratelimit.refused", "authorize"), st.count("ratelimit.refused", "handoff"))
	}
}
