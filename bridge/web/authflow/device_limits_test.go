package authflow

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// downCounters is a counter store that cannot be reached.
type downCounters struct{}

var errCountersDown = errors.New("counters down")

func (downCounters) HitCounter(context.Context, store.CounterHit) (store.Counter, error) {
	return store.Counter{}, errCountersDown
}
func (downCounters) UndoCounter(context.Context, string, time.Time) (string, error) {
	return "", errCountersDown
}
func (downCounters) NoteCounter(context.Context, string, string) error { return errCountersDown }
func (downCounters) ResetCounter(context.Context, string) (string, error) {
	return "", errCountersDown
}

// noAudit keeps no audit rows.
type noAudit struct{}

func (noAudit) Audit(context.Context, *store.AuditEvent) error { return nil }

// oneSession finds the same member's session behind any cookie.
type oneSession struct{}

func (oneSession) SessionByCookie(context.Context, string) (*sso.Session, error) {
	return &sso.Session{ID: "s1", Subject: "alice-sub"}, nil
}

// noDeviceProvider is the flow's provider for an entry that must never reach the code's
// look-up: DeviceLogin fails the test.
type noDeviceProvider struct {
	Provider
	t *testing.T
}

func (p noDeviceProvider) DeviceLogin(context.Context, string) (*sso.DeviceAuthorization, string, error) {
	p.t.Error("a user code was looked up with a budget that could not be reached")
	return nil, "", sso.ErrNotFound
}

// TestDeviceBudgetsFailClosed (brief s24 M5 item 2, D14): each budget a user code entry counts
// against (deviceLimits: the entrant's address or member account, the IPv6 /48's, the
// service-wide anonymous one, the signed-in members' one) fails closed when its throttle cannot
// be reached: the entry is answered 503 without the code being looked up, and what the entry
// reserved in the budgets before it is taken back (a probe of each, whose limit is one, is
// admitted again).
func TestDeviceBudgetsFailClosed(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{Name: "Assoc"})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(strings.Repeat("k", 32))
	one := config.ThrottleConfig{PerLogin: 1, PerIP: 1, Window: time.Minute, Lockout: time.Minute}
	const v6 = "2001:db8:77:1::1"
	for _, tc := range []struct {
		name   string
		member bool // the browser has a member's session
		down   int  // the budget whose throttle is down: 0 the entrant's, 1 the /48's, 2 the service-wide one
	}{
		{"entrant's address", false, 0},
		{"entrant's member account", true, 0},
		{"IPv6 /48", false, 1},
		{"service-wide, anonymous", false, 2},
		{"service-wide, members", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ths := []*throttle.Throttle{throttle.New(one), throttle.New(one), throttle.New(one)}
			ths[tc.down] = throttle.NewShared(one, downCounters{}, key, "device-test")
			h := &Handler{Pages: pages, Provider: noDeviceProvider{t: t}, Throttle: ths[0], DeviceNetworks: ths[1], DeviceGuesses: ths[2],
				Audit:  audit.New(noAudit{}, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, nil),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
				Cookies: session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, oneSession{}, pages)}
			e := echo.New()
			e.IPExtractor = func(*http.Request) string { return v6 }

			// The browser's cookie (with the member's session or without) and its CSRF token.
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, "/device", nil), rec)
			if tc.member {
				if err := h.Cookies.Set(c, "session-id"); err != nil {
					t.Fatal(err)
				}
			}
			csrf, err := h.Cookies.CSRFToken(c)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {"BCDF-GHJK"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, ck := range rec.Result().Cookies() {
				req.AddCookie(ck)
			}
			rec = httptest.NewRecorder()
			c = e.NewContext(req, rec)
			bud := h.deviceBudget(c)
			if (bud.subject != "") != tc.member {
				t.Fatalf("the entry's budget is a member's: %t, want %t", bud.subject != "", tc.member)
			}
			limits := h.deviceLimits(bud, v6)
			if err := h.deviceSubmit(c); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("the entry with the %s budget down: %d, want 503 (fail closed): %.300s", tc.name, rec.Code, rec.Body)
			}
			// Every budget reached before the one down was given back: its one place is free.
			for _, l := range limits {
				if l.t == ths[tc.down] {
					break
				}
				if _, retryAfter, err := l.t.Check(context.Background(), l.login, l.ip); err != nil || retryAfter > 0 {
					t.Fatalf("a budget before the one down (%q) kept the failed entry: retry after %s, %v", l.login, retryAfter, err)
				}
			}
		})
	}
}

// TestDeviceLimits: an entry counts against the entrant's budget, then (a browser without a
// session at an IPv6 address) its /48's, then the service-wide one of its kind, each refusal
// saying which; an IPv4 address has no /48 budget, nor does a member's entry.
func TestDeviceLimits(t *testing.T) {
	h := &Handler{Throttle: throttle.New(config.ThrottleConfig{}), DeviceNetworks: throttle.New(config.ThrottleConfig{}),
		DeviceGuesses: throttle.New(config.ThrottleConfig{})}
	anon6 := deviceBudget{key: deviceThrottleKey("2001:db8::1"), global: deviceGuessesKey}
	anon4 := deviceBudget{key: deviceThrottleKey("192.0.2.1"), global: deviceGuessesKey}
	member := deviceBudget{key: deviceAccountKey("alice"), global: deviceMembersKey, subject: "alice"}
	for _, tc := range []struct {
		name    string
		bud     deviceBudget
		ip      string
		details []string
	}{
		{"anonymous IPv6", anon6, "2001:db8::1", []string{"", "network", "all addresses"}},
		{"anonymous IPv4", anon4, "192.0.2.1", []string{"", "all addresses"}},
		{"member at IPv6", member, "2001:db8::1", []string{"", "all members"}},
	} {
		var got []string
		for _, l := range h.deviceLimits(tc.bud, tc.ip) {
			got = append(got, l.detail)
			if !strings.Contains(l.msg, "%s") || (l.slow != (l.detail != "")) {
				t.Fatalf("%s: budget %q: message %q, slow %t", tc.name, l.detail, l.msg, l.slow)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.details, "|") {
			t.Fatalf("%s: budgets %q, want %q", tc.name, got, tc.details)
		}
	}
}
