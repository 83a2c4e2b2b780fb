package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// TestH26RuleFaultAtTokenEndpoint (review s26 R2-4): an access rule that fails to evaluate at
// a refresh or a device poll is the operator's fault, not an AMS outage: the token endpoint
// answers 500 server_error "the app's access rule could not be evaluated" (RFC 6749 5.2)
// without a Retry-After (a client told to retry in 30 s would retry a fault only the operator
// mends), writes an access.rule_error audit row naming the rule (not only the sign-in page
// does), and keeps the grant: once the rule evaluates again the same refresh token refreshes
// and the same device code gets its tokens. Before, both answered 503 temporarily_unavailable
// "the membership system could not be reached" with Retry-After and wrote no audit row.
func TestH26RuleFaultAtTokenEndpoint(t *testing.T) {
	const rule = `member.extra["region"] == "north"`
	e := grantEnv(t, func(c *bridge.Config) {
		if c.Policy.Policies == nil {
			c.Policy.Policies = map[string]policy.ClientPolicy{}
		}
		c.Policy.Policies["other"] = policy.ClientPolicy{AccessRule: rule}
		c.Policy.Policies["tv"] = policy.ClientPolicy{AccessRule: rule}
	})
	mend := func() {
		e.dir.Update("alice", func(m *legacy.Member) { m.Extra = map[string]string{"region": "north"} })
	}
	breakRule := func() { e.dir.Update("alice", func(m *legacy.Member) { m.Extra = nil }) } // no such key
	mend()

	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	tok, err := other.Exchange(e.ctx(), e.signIn(e.browser(), other.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("sign-in while the rule admits: %v", err)
	}
	tv := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	tv.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := tv.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if p := deviceApprove(t, e, da.UserCode, "alice", "alice-password"); p.status != 200 || p.path != "/device/done" {
		t.Fatalf("device approval while the rule admits: %d %s %.400s", p.status, p.path, p.body)
	}

	for _, tt := range []struct {
		name, client string
		request      func() (*http.Response, map[string]any)
	}{
		{"refresh", "other", func() (*http.Response, map[string]any) {
			return postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}, "other", otherSecret)
		}},
		{"device poll", "tv", func() (*http.Response, map[string]any) {
			return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			breakRule()
			resp, body := tt.request()
			mend()
			wantOAuthError(t, resp, body, http.StatusInternalServerError, "server_error")
			if d, _ := body["error_description"].(string); d != "the app's access rule could not be evaluated" {
				t.Errorf("error_description %q", d)
			}
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After %q for a fault only the operator can mend", ra)
			}
			evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "access.rule_error"})
			if err != nil {
				t.Fatal(err)
			}
			var row *store.AuditEvent
			for i := range evs {
				if evs[i].ClientID == tt.client {
					row = evs[i]
				}
			}
			if row == nil || row.Subject == "" || !strings.Contains(row.Detail, "policies["+tt.client+"].access_rule") || !strings.Contains(row.Detail, "no such key") {
				t.Fatalf("access.rule_error rows %+v: want one for %s naming the rule and the error class", evs, tt.client)
			}
			time.Sleep(1100 * time.Millisecond) // the device's interval (1 s)
			// The grant was kept: with the rule evaluating again it answers.
			if resp, body := tt.request(); resp.StatusCode != http.StatusOK || body["access_token"] == nil {
				t.Fatalf("once the rule evaluates again: %d %v", resp.StatusCode, body)
			}
		})
	}
}
