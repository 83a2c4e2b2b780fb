package bridge_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	imissim "github.com/ssobridge/ssobridge/legacy/imis/sim"
)

// TestHandoffRetryAfterAMSOutage (review s9 Z1): an AMS token whose exchange failed because
// the AMS could not be reached signed nobody in, so the same token works when the AMS is
// back. Before, its hash stayed in the replay guard for five minutes: the hand-off page said
// "try again in a few minutes" and the retry (the browser re-posting the form) was refused as
// "already used"; token exchange answered 503 temporarily_unavailable and then, on the retry
// RFC 6749 invites, invalid_grant, which tells the client to throw its AMS token away.
func TestHandoffRetryAfterAMSOutage(t *testing.T) {
	e := newEnvWith(t, true, func(c *bridge.Config) {
		c.AMS.Timeout = time.Second
		c.AMS.ExchangeClients = []string{"exchanger"}
	})
	sim := e.amsSim
	t.Run("hand-off", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		sim.SetFaults(imissim.Faults{Status: http.StatusInternalServerError})
		b := e.browser()
		if p := b.Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {tok}}); p.Status != http.StatusServiceUnavailable {
			sim.SetFaults(imissim.Faults{})
			t.Fatalf("AMS down: want 503, got %d %.200s", p.Status, p.Body)
		}
		sim.SetFaults(imissim.Faults{})
		p := b.Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {tok}})
		if acc := b.Get(e.issuer + "/account"); acc.Status != http.StatusOK {
			t.Fatalf("retry after the AMS came back: %d %.300s", p.Status, p.Body)
		}
	})
	t.Run("token exchange", func(t *testing.T) {
		tok, _ := sim.IssueRefreshToken("alice", "ssobridge")
		form := map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": tok,
			"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}
		sim.SetFaults(imissim.Faults{Status: http.StatusInternalServerError})
		resp, body := postForm(t, tokenURL(e), form, "exchanger", webSecret)
		sim.SetFaults(imissim.Faults{})
		wantOAuthError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
		resp, body = postForm(t, tokenURL(e), form, "exchanger", webSecret)
		if resp.StatusCode != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("retry after the AMS came back: %d %v", resp.StatusCode, body)
		}
	})
}
