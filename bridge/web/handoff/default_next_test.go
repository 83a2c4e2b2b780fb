package handoff

import (
	"context"
	"log/slog"
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// oneClient is a Provider with one client.
type oneClient struct{ c *sso.ClientConfig }

func (oneClient) AuthRequest(context.Context, string) (*sso.AuthRequest, error) {
	return nil, sso.ErrNotFound
}

func (p oneClient) Client(_ context.Context, id string) (*sso.ClientConfig, error) {
	if id != p.c.ID {
		return nil, sso.ErrNotFound
	}
	return p.c, nil
}

// TestDefaultNextInitiateLoginURI (review s13 X3): a hand-off with no app waiting goes to the
// default app's initiate_login_uri with iss (OIDC Core 4, third-party initiated login) as a
// query parameter of that URI: one it already has (a tenant, a return path) stays, and iss is
// added to it, not glued on with a second "?". A URI that is not http(s) (the field is not
// validated where clients are registered) is not a place to send the member: the account page.
func TestDefaultNextInitiateLoginURI(t *testing.T) {
	const issuer = "https://sso.example.org"
	for _, tc := range []struct{ uri, want string }{
		{"https://portal.example.org/oidc/login", "https://portal.example.org/oidc/login?iss=" + url.QueryEscape(issuer)},
		{"https://portal.example.org/oidc/login?tenant=a", "https://portal.example.org/oidc/login?iss=" + url.QueryEscape(issuer) + "&tenant=a"},
		{"javascript:alert(1)", "/account"},
		{"", "/account"},
	} {
		h := &Handler{DefaultClient: "portal", Issuer: issuer, Logger: slog.New(slog.DiscardHandler),
			Provider: oneClient{&sso.ClientConfig{ID: "portal", InitiateLoginURI: tc.uri}}}
		if got := h.defaultNext(context.Background()); got != tc.want {
			t.Errorf("initiate_login_uri %q: the hand-off goes to %q, want %q", tc.uri, got, tc.want)
		}
	}
}

// countingClients is oneClient counting its client lookups.
type countingClients struct {
	oneClient
	lookups int
}

func (p *countingClients) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	p.lookups++
	return p.oneClient.Client(ctx, id)
}

// TestDefaultNextOnlyWithoutARequest (end-of-session review s13 RV2-6): a hand-off waiting
// for its second factor goes on to the default app only when no app's sign-in request is
// waiting; with one waiting the default app's client is not looked up (before, it was on
// every hand-off, and its bad initiate_login_uri warned each time).
func TestDefaultNextOnlyWithoutARequest(t *testing.T) {
	p := &countingClients{oneClient: oneClient{&sso.ClientConfig{ID: "portal", InitiateLoginURI: "https://portal.example.org/login"}}}
	h := &Handler{DefaultClient: "portal", Issuer: "https://sso.example.org", Logger: slog.New(slog.DiscardHandler), Provider: p}
	ar, app := &sso.AuthRequest{ID: "r", ClientID: "app"}, &sso.ClientConfig{ID: "app"}
	if ff := h.firstFactor(context.Background(), ar, app, nil, nil); ff.AR != ar || ff.Client != app || ff.Next != "" || p.lookups != 0 {
		t.Errorf("with a request waiting: %+v, %d client lookups; want the request, no next, no lookup", ff, p.lookups)
	}
	if ff := h.firstFactor(context.Background(), nil, nil, nil, nil); ff.AR != nil ||
		ff.Next != "https://portal.example.org/login?iss="+url.QueryEscape(h.Issuer) {
		t.Errorf("with no request waiting: %+v, want the default app's initiate_login_uri next", ff)
	}
}
