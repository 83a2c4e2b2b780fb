package imis_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

type noAuth struct{}

func (noAuth) Authenticate(context.Context, string, string) (*legacy.Member, error) {
	return nil, legacy.ErrBadCredentials
}

// The iMIS website redeems the SSO iPart's refresh token at its token endpoint (here the
// simulator on 127.0.0.1) for the login name, once; the token endpoint's refusals become the
// legacy hand-off errors the bridge turns into pages.
func TestSiteExchangeHandoff(t *testing.T) {
	s := sim.New(sim.Config{Clients: []sim.ClientApp{{ClientID: "bridge", ClientSecret: "right-secret", Name: "bridge",
		LoginRedirectURL: "https://sso.example.org/handoff/imis"}}, Authenticator: noAuth{}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	site := func(secret string) *imis.Site {
		w, err := imis.NewSite(imis.WebsiteConfig{Config: token.Config{BaseURL: srv.URL, ClientID: "bridge", ClientSecret: secret},
			SSOURL: srv.URL + "/sso", LogoutURL: srv.URL + sim.LogoutPath})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	ctx := context.Background()
	tok, err := s.IssueRefreshToken("alice", "bridge")
	if err != nil {
		t.Fatal(err)
	}
	w := site("right-secret")
	if login, err := w.ExchangeHandoff(ctx, tok); err != nil || login != "alice" {
		t.Fatalf("exchange: %q %v", login, err)
	}
	if _, err := w.ExchangeHandoff(ctx, tok); !errors.Is(err, legacy.ErrHandoffRefused) {
		t.Fatalf("replayed token: %v, want ErrHandoffRefused", err)
	}
	tok2, _ := s.IssueRefreshToken("alice", "bridge")
	if _, err := site("wrong-secret").ExchangeHandoff(ctx, tok2); !errors.Is(err, legacy.ErrHandoffClient) {
		t.Fatalf("wrong client secret: %v, want ErrHandoffClient", err)
	}
	s.SetFaults(sim.Faults{Status: 500})
	if _, err := w.ExchangeHandoff(ctx, tok2); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("AMS error: %v, want ErrUnavailable", err)
	}
	if o := w.Website().Origins; len(o) != 2 || o[0] != srv.URL || o[1] != srv.URL {
		t.Fatalf("origins %v", o)
	}
	u, ok := w.LogoutURL("https://sso.example.org/logout/return?t=a&b")
	if !ok || !strings.HasPrefix(u, srv.URL+sim.LogoutPath+"?returnurl=https%3A%2F%2Fsso.example.org%2Flogout%2Freturn%3Ft%3Da%26b") {
		t.Fatalf("logout URL %q", u)
	}
}

// Without logout_url the website has no single sign-off.
func TestSiteWithoutLogoutURL(t *testing.T) {
	w, err := imis.NewSite(imis.WebsiteConfig{Config: token.Config{BaseURL: "https://members.example.org", ClientID: "c", ClientSecret: "s"},
		SSOURL: "https://members.example.org/SSO"})
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := w.LogoutURL("https://sso.example.org/x"); ok || u != "" {
		t.Fatalf("logout URL %q %v", u, ok)
	}
}

// Validate reports every problem of an enabled website at once, each naming its ams.<field>;
// a website that is not configured is valid.
func TestWebsiteConfigValidate(t *testing.T) {
	if err := (imis.WebsiteConfig{}).Validate(); err != nil {
		t.Fatalf("not configured: %v", err)
	}
	err := imis.WebsiteConfig{Config: token.Config{BaseURL: "https://members.example.org"}, LogoutURL: "/logout"}.Validate()
	for _, want := range []string{"ams.client_id: required", "ams.client_secret: required", "ams.logout_url:", "ams.sso_url: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}
