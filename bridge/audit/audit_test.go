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

// TestCoalesced (brief s21 Q2 item 1): rows about one client that anyone may cause at will
// (a client that is not served) are written once per client, address and window, and at most
// the budget per client whatever the addresses, then one ratelimit.refused row names the event
// and client; another client has its own rows.
func TestCoalesced(t *testing.T) {
	st := &memLog{}
	l := audit.New(st, slog.New(slog.DiscardHandler), nil, throttle.NewLimiter(3))
	ctx := context.Background()
	ev := func(client, ip string) *store.AuditEvent {
		return &store.AuditEvent{Event: "client.unusable", ClientID: client, IP: ip, Detail: "refused at a page"}
	}
	for range 10 {
		l.Coalesced(ctx, "client.unusable|c1", ev("c1", "192.0.2.1"))
	}
	if n := st.count("client.unusable", "refused at a page"); n != 1 {
		t.Fatalf("%d rows from one address, want 1", n)
	}
	for i := range 10 { // an IPv6 /64 is one address: 2 more addresses in all
		l.Coalesced(ctx, "client.unusable|c1", ev("c1", fmt.Sprintf("2001:db8:1:2::%x", i+1)))
		l.Coalesced(ctx, "client.unusable|c1", ev("c1", fmt.Sprintf("2001:db8:1:%x::1", i+3)))
	}
	if n := st.count("client.unusable", "refused at a page"); n != 3 {
		t.Fatalf("%d rows of c1, want the budget of 3", n)
	}
	if n := st.count("ratelimit.refused", "audit rows of client.unusable"); n != 1 {
		t.Fatalf("%d ratelimit.refused rows, want 1", n)
	}
	for _, e := range st.events {
		if e.Event == "ratelimit.refused" && e.ClientID != "c1" {
			t.Fatalf("the ratelimit.refused row does not name the client: %+v", e)
		}
	}
	l.Coalesced(ctx, "client.unusable|c2", ev("c2", "192.0.2.1"))
	if n := len(st.events); n != 5 {
		t.Fatalf("%d rows after another client's, want 5", n)
	}
	// Without a limiter every row is written.
	st2 := &memLog{}
	l2 := audit.New(st2, slog.New(slog.DiscardHandler), nil, nil)
	for range 3 {
		l2.Coalesced(ctx, "client.unusable|c1", ev("c1", "192.0.2.1"))
	}
	if len(st2.events) != 3 {
		t.Fatalf("%d rows without a limiter", len(st2.events))
	}
}

// failingCounters is a shared limiter's store that cannot count.
type failingCounters struct{ store.CounterStore }

func (failingCounters) HitCounter(context.Context, store.CounterHit) (store.Counter, error) {
	return store.Counter{}, errors.New("counters down")
}

// TestRepeated (brief s23 L2 item 2): an event a client may repeat on every request (a refused
// refresh of a live refresh token) is written once per key and window, while the observer (the
// metrics) sees every one; another key (another member, app or reason) and a new window are
// written; a limiter that cannot count writes every row (the first is never lost), as does a
// Log without a limiter.
func TestRepeated(t *testing.T) {
	ctx := context.Background()
	clock := now
	st := &memLog{}
	observed := 0
	l := audit.New(st, slog.New(slog.DiscardHandler), func() time.Time { return clock },
		throttle.NewLimiter(3).WithClock(func() time.Time { return clock })).
		Observe(func(_ context.Context, e *store.AuditEvent) {
			if e.Event == "token.refresh_denied" {
				observed++
			}
		})
	ev := func(subject, detail string) *store.AuditEvent {
		return &store.AuditEvent{Event: "token.refresh_denied", Subject: subject, ClientID: "app", IP: "192.0.2.1", Detail: detail}
	}
	for range 100 {
		l.Repeated(ctx, "token.refresh_denied|s1|app|lapsed", ev("s1", "lapsed"))
	}
	if n := st.count("token.refresh_denied", "lapsed"); n != 1 || observed != 100 {
		t.Fatalf("100 refusals: %d rows (want 1), %d observed (want 100)", n, observed)
	}
	if st.events[0].Subject != "s1" || !st.events[0].Time.Equal(clock) {
		t.Fatalf("the row written: %+v", st.events[0])
	}
	l.Repeated(ctx, "token.refresh_denied|s2|app|lapsed", ev("s2", "lapsed"))
	l.Repeated(ctx, "token.refresh_denied|s1|app|mfa", ev("s1", "mfa"))
	if len(st.events) != 3 {
		t.Fatalf("another member's and another reason's: %d rows, want 3", len(st.events))
	}
	clock = clock.Add(time.Minute)
	for range 10 {
		l.Repeated(ctx, "token.refresh_denied|s1|app|lapsed", ev("s1", "lapsed"))
	}
	if n := st.count("token.refresh_denied", "lapsed"); n != 3 || observed != 112 {
		t.Fatalf("a new window: %d lapsed rows (want 3), %d observed (want 112)", n, observed)
	}

	for name, lim := range map[string]*throttle.Limiter{"no limiter": nil,
		"limiter down": throttle.NewSharedLimiter(3, failingCounters{}, []byte("k"))} {
		st := &memLog{}
		l := audit.New(st, slog.New(slog.DiscardHandler), nil, lim)
		for range 3 {
			l.Repeated(ctx, "token.refresh_denied|s1|app|lapsed", ev("s1", "lapsed"))
		}
		if len(st.events) != 3 {
			t.Fatalf("%s: %d rows of 3, want all", name, len(st.events))
		}
	}
}
