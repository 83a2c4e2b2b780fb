package bridge_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestAMSTokenSpentOnceAcrossHandoffAndExchange (review s19 X, brief items 1 and 3): an AMS
// refresh token is redeemed once whichever door it comes through. Exchanged by an app (RFC
// 8693), the same token posted as a hand-off is refused as replayed, and signs no browser in;
// used by a hand-off, the same token exchanged is invalid_grant. (One replay guard, keyed by
// the token's hash, serves both: a token leaked from an app cannot open a browser session, nor
// one from a browser's form history give an app tokens.)
func TestAMSTokenSpentOnceAcrossHandoffAndExchange(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) { c.AMS.ExchangeClients = []string{"exchanger"} })
	exchange := func(tok string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token": tok, "subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}, "exchanger", webSecret)
	}

	tok, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	if resp, body := exchange(tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %v", resp.StatusCode, body)
	}
	b := e.browser()
	if p := amsPost(t, e, b, url.Values{"refresh_token": {tok}}); p.Status != http.StatusBadRequest {
		t.Fatalf("hand-off of an exchanged token: %d %.300s", p.Status, p.Body)
	}
	if b.Get(e.issuer+"/account").Status == http.StatusOK {
		t.Fatal("an exchanged AMS token signed a browser in")
	}

	tok2, _ := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	b2 := e.browser()
	if p := amsPost(t, e, b2, url.Values{"refresh_token": {tok2}}); p.Status >= 400 || b2.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatalf("hand-off: %d %.300s", p.Status, p.Body)
	}
	resp, body := exchange(tok2)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
}
