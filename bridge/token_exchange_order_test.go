package bridge_test

import (
	"net/http"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestTokenExchangeConsentAfterRedemption pins the order of token exchange for a third-party
// client: the member's consent can be checked only once the AMS refresh token has named the
// member, at the AMS's token endpoint, which rotates it (RFC 6749 section 6); so an exchange the
// member's consent refuses has spent its AMS token (invalid_scope, audited
// token.consent_required), and the same token is refused afterwards (invalid_grant) even with
// the consent recorded; a fresh one then works. What needs no member is refused before the token
// is spent (TestGrantsWithoutBrowserNeedConsent: a client not in ams.exchange_clients).
func TestTokenExchangeConsentAfterRedemption(t *testing.T) {
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "exchanger3p", Name: "Third-party Server App", Secret: webSecret,
			GrantTypes: []string{sso.GrantTokenExchange}})
		c.AMS.ExchangeClients = []string{"exchanger", "exchanger3p"}
	})
	exchange := func(tok string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantTokenExchange, "subject_token": tok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}, "exchanger3p", webSecret)
	}
	tok, err := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := exchange(tok)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
	events, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "token.consent_required"})
	if err != nil || len(events) != 1 || events[0].Subject == "" {
		t.Fatalf("consent refusal audited: %v %+v (want one, naming the member the token named)", err, events)
	}
	if err := e.store.PutConsent(e.ctx(), &store.Consent{Subject: events[0].Subject, ClientID: "exchanger3p", Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	resp, body = exchange(tok)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	fresh, err := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := exchange(fresh); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange with the consent recorded: %d %v", resp.StatusCode, body)
	}
}
