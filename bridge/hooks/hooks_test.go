package hooks_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// fakes: subjects "sub-<key>" map to key; members by key; consents by subject|client.
type subjects struct{}

func (subjects) MemberKey(_ context.Context, sub string) (string, error) {
	if len(sub) > 4 && sub[:4] == "sub-" {
		return sub[4:], nil
	}
	return "", sso.ErrNotFound
}

type members map[string]*legacy.Member

func (m members) MemberByKey(_ context.Context, key string) (*legacy.Member, error) {
	if key == "down" {
		return nil, legacy.ErrUnavailable
	}
	if mb, ok := m[key]; ok {
		return mb, nil
	}
	return nil, legacy.ErrNotFound
}

type consents map[string][]string

func (c consents) Consent(_ context.Context, subject, clientID string) (*store.Consent, error) {
	if sc, ok := c[subject+"|"+clientID]; ok {
		return &store.Consent{Subject: subject, ClientID: clientID, Scopes: sc}, nil
	}
	return nil, sso.ErrNotFound
}

type policy struct{}

func (policy) Claims(m *legacy.Member, subject, clientID string, scopes []string, _ sso.ClaimTarget, _ time.Time) (map[string]any, error) {
	return map[string]any{"sub": subject, "preferred_username": m.Login, "client": clientID, "scopes": len(scopes)}, nil
}

type exchanger struct{}

func (exchanger) ExternalTokenTypes() []string { return []string{"urn:x:ams"} }
func (exchanger) ExchangeExternal(context.Context, string, string, string) (string, []string, error) {
	return "sub-K1", []string{"ams"}, nil
}

func newHooks() (*hooks.Hooks, *[]*store.AuditEvent) {
	var events []*store.AuditEvent
	ok := &legacy.Member{Key: "K1", Login: "alice", Standing: legacy.Standing{Approved: true}}
	locked := &legacy.Member{Key: "K2", Login: "bob", Standing: legacy.Standing{Approved: true, LockedOut: true}}
	return &hooks.Hooks{
		Members: members{"K1": ok, "K2": locked}, Subjects: subjects{}, Policy: policy{},
		Access:         access.New(nil, nil, slog.New(slog.DiscardHandler)),
		Consents:       consents{"sub-K1|web": {"openid", "profile"}},
		Audit:          func(_ context.Context, e *store.AuditEvent) { events = append(events, e) },
		ClientThrottle: throttle.New(config.ThrottleConfig{PerLogin: 2, PerIP: 100, Window: time.Minute, Lockout: time.Minute}),
		LogoutPage:     func(req *op.EndSessionRequest) (string, error) { return "/logout?user=" + req.UserID, nil },
		Exchanger:      exchanger{}, ExchangeClients: []string{"exchanger"},
		Now: func() time.Time { return now },
	}, &events
}

func TestCheckGrant(t *testing.T) {
	h, _ := newHooks()
	for _, tt := range []struct {
		name, subject string
		denied        bool // wraps sso.ErrAccessDenied
		err           error
	}{
		{"allowed", "sub-K1", false, nil},
		{"locked out", "sub-K2", true, legacy.ErrLockedOut},
		{"gone from the directory", "sub-K9", true, nil},
		{"unknown subject", "nobody", true, nil},
		{"AMS unavailable", "sub-down", false, legacy.ErrUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := h.CheckGrant(context.Background(), tt.subject, "web")
			if errors.Is(err, sso.ErrAccessDenied) != tt.denied {
				t.Fatalf("CheckGrant = %v, denied want %v", err, tt.denied)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("CheckGrant = %v, want %v", err, tt.err)
			}
			if !tt.denied && tt.err == nil && err != nil {
				t.Fatalf("CheckGrant = %v", err)
			}
		})
	}
}

func TestClaimsAndConsent(t *testing.T) {
	h, _ := newHooks()
	ctx := context.Background()
	c, err := h.Claims(ctx, "sub-K1", "web", []string{"openid"}, sso.TargetIDToken)
	if err != nil || c["preferred_username"] != "alice" {
		t.Fatalf("Claims = %v, %v", c, err)
	}
	if _, err := h.Claims(ctx, "sub-K9", "web", nil, sso.TargetIDToken); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("Claims of a member gone = %v", err)
	}
	// WriteClaims with a policy that has only Claims: its map, written as the provider copies one.
	var (
		sink sso.ClaimSink
		ui   oidc.UserInfo
	)
	err = h.WriteClaims(ctx, "sub-K1", "web", []string{"openid"}, sso.TargetIDToken, &sink)
	sink.ApplyTo(&ui)
	if err != nil || ui.PreferredUsername != "alice" || ui.Subject != "" || ui.Claims["client"] != "web" || ui.Claims["scopes"] != 1 || len(ui.Claims) != 2 {
		t.Fatalf("WriteClaims = %+v, %v", ui, err)
	}
	if err := h.WriteClaims(ctx, "sub-K9", "web", nil, sso.TargetIDToken, &sso.ClaimSink{}); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("WriteClaims of a member gone = %v", err)
	}
	for _, tt := range []struct {
		subject, client string
		registered      time.Time // the client's registration (zero: static)
		scopes          []string
		want            bool
	}{
		{"sub-K1", "web", time.Time{}, []string{"openid"}, true},
		{"sub-K1", "web", time.Time{}, []string{"openid", "profile"}, true},
		{"sub-K1", "web", time.Time{}, []string{"openid", "email"}, false},
		{"sub-K1", "other", time.Time{}, []string{"openid"}, false},
		// The consent (granted at the zero time here) was given to an earlier registration of
		// the id: another app.
		{"sub-K1", "web", time.Now(), []string{"openid"}, false},
	} {
		if got, err := h.HasConsent(ctx, tt.subject, &sso.ClientConfig{ID: tt.client, RegisteredAt: tt.registered}, tt.scopes); err != nil || got != tt.want {
			t.Errorf("HasConsent(%s, %s registered %v, %v) = %v, %v", tt.subject, tt.client, tt.registered, tt.scopes, got, err)
		}
	}
}

func TestExchange(t *testing.T) {
	h, _ := newHooks()
	for _, tt := range []struct {
		client, typ string
		want        bool
	}{
		{"exchanger", "urn:x:ams", true},
		{"web", "urn:x:ams", false},
		{"exchanger", "urn:x:other", false},
	} {
		if got := h.MayExchangeExternal(tt.client, tt.typ); got != tt.want {
			t.Errorf("MayExchangeExternal(%s, %s) = %v", tt.client, tt.typ, got)
		}
	}
	h.Exchanger = nil
	if h.ExternalTokenTypes() != nil || h.MayExchangeExternal("exchanger", "urn:x:ams") {
		t.Fatal("exchange without an exchanger")
	}
	if _, _, err := h.ExchangeExternal(context.Background(), "exchanger", "t", "urn:x:ams"); !errors.Is(err, sso.ErrUnsupportedTokenType) {
		t.Fatalf("ExchangeExternal without an exchanger = %v", err)
	}
}

// TestEndSessionHint: the hook passes the request's member to the logout page (that the hint
// is an ID token is the provider's check: sso TestEndSessionHintMustBeAnIDToken).
func TestEndSessionHint(t *testing.T) {
	h, _ := newHooks()
	hint := func(extra map[string]any) *op.EndSessionRequest {
		return &op.EndSessionRequest{UserID: "sub-K1", IDTokenHintClaims: &oidc.IDTokenClaims{Claims: extra}}
	}
	for _, tt := range []struct {
		name string
		req  *op.EndSessionRequest
		want string
	}{
		{"id token", hint(map[string]any{"sid": "x"}), "/logout?user=sub-K1"},
		{"no hint", &op.EndSessionRequest{UserID: "sub-K1"}, "/logout?user=sub-K1"},
	} {
		if got, err := h.EndSession(context.Background(), tt.req); err != nil || got != tt.want {
			t.Errorf("%s: EndSession = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestClientAuthThrottle: failures count per client and IP (the IP from the request context
// when the router put it there); a success takes its reservation back; Event rows carry it.
func TestClientAuthThrottle(t *testing.T) {
	h, events := newHooks()
	req := httptest.NewRequest("POST", "/oauth/token", nil)
	req = req.WithContext(hooks.WithProtocolRequest(req.Context(), "192.0.2.5"))
	attempt := func(r *http.Request) time.Duration {
		t.Helper()
		ra, err := h.ClientAuthAttempt(r, "web")
		if err != nil {
			t.Fatal(err)
		}
		return ra
	}
	for range 5 {
		if attempt(req) > 0 {
			t.Fatal("successes counted as failures")
		}
		h.ClientAuthResult(req, "web", true)
	}
	for range 2 {
		if attempt(req) > 0 {
			t.Fatal("refused too early")
		}
		h.ClientAuthResult(req, "web", false)
	}
	if attempt(req) == 0 {
		t.Fatal("not refused after 2 failures")
	}
	// The same request asking for another client counts that client's failures, not web's.
	if ra, err := h.ClientAuthAttempt(req, "other"); err != nil || ra > 0 {
		t.Fatalf("another client on the same request: %v %v", ra, err)
	}
	other := httptest.NewRequest("POST", "/oauth/token", nil) // RemoteAddr 192.0.2.1
	if attempt(other) > 0 {
		t.Fatal("another address refused")
	}
	h.Event(req.Context(), "token.revoked", "sub-K1", "web", "d")
	if len(*events) != 1 || (*events)[0].IP != "192.0.2.5" || (*events)[0].Event != "token.revoked" {
		t.Fatalf("events %+v", *events)
	}
}
