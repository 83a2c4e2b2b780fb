package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestGrantsWithoutBrowserNeedConsent: the password grant and token exchange give a
// third-party (not trusted) client tokens only for scopes the member consented to; trusted
// clients need none; only clients listed in ams.exchange_clients may exchange AMS tokens.
func TestGrantsWithoutBrowserNeedConsent(t *testing.T) {
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "legacy3p", Name: "Third-party Forum", Secret: legacySecret,
				GrantTypes: []string{sso.GrantPassword}},
			config.Client{ID: "exchanger3p", Name: "Third-party Server App", Secret: webSecret,
				GrantTypes: []string{sso.GrantTokenExchange}},
			config.Client{ID: "unlisted", Name: "Unlisted Server App", Secret: webSecret, Trusted: true,
				GrantTypes: []string{sso.GrantTokenExchange}},
		)
		c.AMS.ExchangeClients = []string{"exchanger", "exchanger3p"}
	})
	sim := e.amsSim
	scope := "openid profile email"
	password := func(client string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "alice",
			"password": "alice-password", "scope": scope}, client, legacySecret)
	}
	exchange := func(client string) (*http.Response, map[string]any) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantTokenExchange, "subject_token": tok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": scope}, client, webSecret)
	}
	// Trusted clients: no consent needed.
	resp, body := password("legacy")
	if resp.StatusCode != 200 {
		t.Fatalf("trusted password grant: %d %v", resp.StatusCode, body)
	}
	if resp, body := exchange("exchanger"); resp.StatusCode != 200 {
		t.Fatalf("trusted exchange: %d %v", resp.StatusCode, body)
	}
	_, idt := oidcVerifier(t, e, "legacy"), body["id_token"].(string)
	tok, err := oidcVerifier(t, e, "legacy").Verify(e.ctx(), idt)
	if err != nil {
		t.Fatal(err)
	}
	sub := tok.Subject

	// Third-party clients without a consent: refused, no tokens, no claims.
	resp, body = password("legacy3p")
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
	resp, body = exchange("exchanger3p")
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
	// A consent for fewer scopes is not enough.
	for _, c := range []string{"legacy3p", "exchanger3p"} {
		if err := e.store.PutConsent(e.ctx(), &store.Consent{Subject: sub, ClientID: c, Scopes: []string{"openid"}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body = password("legacy3p")
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
	// With the consent recorded (as the consent page does), the grants work.
	for _, c := range []string{"legacy3p", "exchanger3p"} {
		if err := e.store.PutConsent(e.ctx(), &store.Consent{Subject: sub, ClientID: c, Scopes: []string{"email", "openid", "profile"}}); err != nil {
			t.Fatal(err)
		}
	}
	if resp, body := password("legacy3p"); resp.StatusCode != 200 || body["id_token"] == nil {
		t.Fatalf("password grant with consent: %d %v", resp.StatusCode, body)
	}
	if resp, body := exchange("exchanger3p"); resp.StatusCode != 200 {
		t.Fatalf("exchange with consent: %d %v", resp.StatusCode, body)
	}
	// Not listed in ams.exchange_clients: refused before the AMS token is spent.
	tokAMS, _ := sim.IssueRefreshToken("alice", "ssobridge")
	resp, body = postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantTokenExchange, "subject_token": tokAMS,
		"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}, "unlisted", webSecret)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "unauthorized_client")
	resp, body = postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantTokenExchange, "subject_token": tokAMS,
		"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}, "exchanger", webSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("the AMS token was spent by a refused exchange: %d %v", resp.StatusCode, body)
	}
	_ = oauth2.AuthStyleInHeader
}
