package authflow

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// fakeProvider is a Provider with fixed requests and clients.
type fakeProvider struct {
	requests map[string]*sso.AuthRequest
	clients  map[string]*sso.ClientConfig
}

func (p fakeProvider) AuthRequest(_ context.Context, id string) (*sso.AuthRequest, error) {
	if ar, ok := p.requests[id]; ok {
		return ar, nil
	}
	return nil, sso.ErrNotFound
}

func (p fakeProvider) Client(_ context.Context, id string) (*sso.ClientConfig, error) {
	if c, ok := p.clients[id]; ok {
		return c, nil
	}
	return nil, sso.ErrNotFound
}

func (fakeProvider) Complete(context.Context, string, sso.Completion) (string, error) {
	return "", sso.ErrNotFound
}

func (fakeProvider) CallbackURL(id string) string { return sso.PathAuthCallback + "?id=" + id }

func (fakeProvider) NewCode(*sso.AuthRequest) (*sso.IssuedCode, error)               { return nil, sso.ErrNotFound }
func (fakeProvider) CodeCommitted(*sso.AuthRequest, sso.Completion, *sso.IssuedCode) {}

func (fakeProvider) ErrorRedirect(*sso.AuthRequest, *oidc.Error) (string, error) { return "", nil }
func (fakeProvider) DeviceEnabled() bool                                         { return false }
func (fakeProvider) DeviceLogin(context.Context, string) (*sso.DeviceAuthorization, string, error) {
	return nil, "", sso.ErrNotFound
}

func (fakeProvider) DeviceDone(context.Context, url.Values) (*sso.DeviceAuthorization, bool, error) {
	return nil, false, sso.ErrNotFound
}

// unclaimable is a Store whose requests can never be claimed (bound already, finished,
// expired or unknown); nothing else of it is used.
type unclaimable struct{ Store }

func (unclaimable) ClaimAuthRequest(context.Context, string, string) (*sso.AuthRequest, error) {
	return nil, nil
}

type auditRows []*store.AuditEvent

func (a *auditRows) Audit(_ context.Context, e *store.AuditEvent) error {
	*a = append(*a, e)
	return nil
}

// TestPendingRequestStates: the login page's request loading, on the narrow Provider: an
// unknown request, a request of an unregistered client and a finished request each get their
// page, and a finished one its audit row; none reaches the form.
func TestPendingRequestStates(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{})
	if err != nil {
		t.Fatal(err)
	}
	var rows auditRows
	prov := fakeProvider{
		requests: map[string]*sso.AuthRequest{
			"orphan": {ID: "orphan", ClientID: "gone"},
			"done":   {ID: "done", ClientID: "app", Done: true},
		},
		clients: map[string]*sso.ClientConfig{"app": {ID: "app", Name: "App"}},
	}
	// The login page first tries to claim the request (ClaimAuthRequest); none of these can be
	// claimed, so each goes on to PendingRequest, whose answers are checked here.
	key := []byte(strings.Repeat("k", 32))
	h := &Handler{Pages: pages, Provider: prov, Audit: audit.New(&rows, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil),
		Issuer: "https://sso.example", Now: time.Now, Store: unclaimable{},
		Cookies: session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, nil, pages)}
	e := echo.New()
	for _, tc := range []struct {
		id     string
		status int
		says   string
		audit  string
	}{
		{"missing", http.StatusBadRequest, "This sign-in has expired", ""},
		{"orphan", http.StatusBadRequest, "This app is not registered", ""},
		{"done", http.StatusConflict, "already used", "authorize.request_used"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rows = nil
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, PathLogin+"?id="+tc.id, nil), rec)
			if err := h.loginPage(c); err != nil {
				t.Fatalf("loginPage: %v", err)
			}
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.says) {
				t.Fatalf("%d, want %d saying %q", rec.Code, tc.status, tc.says)
			}
			got := ""
			if len(rows) > 0 {
				got = rows[0].Event
			}
			if len(rows) > 1 || got != tc.audit {
				t.Fatalf("audit rows %d, first %q; want %q", len(rows), got, tc.audit)
			}
		})
	}
}
