package bridge_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestConsentRequiredRepeatedAuditBounded (session 24, L2's leftover): a third-party app (not
// trusted) retrying the password grant with a member's right password while the member has not
// consented to it is refused every time (invalid_scope), and each refusal appended a
// token.consent_required row: 30 attempts, 30 rows. Now that row is written once per member,
// app, reason, address and minute (audit.Log.Repeated, as token.refresh_denied), while the
// metrics count all 30, and each attempt's login.success row (the password was right) stays.
// The bound on rows allows one more per minute the loop took (no timing assumption). Once the
// member's consent is recorded, the grant is served.
func TestConsentRequiredRepeatedAuditBounded(t *testing.T) {
	e := newEnvWith(t, true, withGrantClients, withAdmin, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "forum3p", Name: "Third-party Forum", Secret: legacySecret,
			GrantTypes: []string{sso.GrantPassword}})
	})
	admin := e.adminServer()
	password := func() (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "alice",
			"password": "alice-password", "scope": "openid profile"}, "forum3p", legacySecret)
	}
	rows := func(event string) int {
		return countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = ? AND client_id = 'forum3p'", event)
	}
	before, _ := scrapeMetrics(t, admin.URL)
	const series = `ssobridge_audit_events_total{event="token.consent_required"}`
	const attempts = 30
	start := time.Now()
	for i := range attempts {
		resp, body := password()
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_scope")
		if i == 0 && rows("token.consent_required") != 1 {
			t.Fatalf("the first refusal wrote %d rows, want 1", rows("token.consent_required"))
		}
	}
	minutes := int(time.Since(start) / time.Minute)
	after, _ := scrapeMetrics(t, admin.URL)
	if n := rows("token.consent_required"); n < 1 || n > 1+minutes {
		t.Fatalf("%d refused password grants in %d whole minutes wrote %d token.consent_required rows, want 1 to %d", attempts, minutes, n, 1+minutes)
	}
	if d := after[series] - before[series]; d != attempts {
		t.Fatalf("%s changed by %v, want %d", series, d, attempts)
	}
	if n := rows("login.success"); n != attempts {
		t.Fatalf("%d password grants with the right password wrote %d login.success rows, want one each", attempts, n)
	}
	events, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "token.consent_required"})
	if err != nil || len(events) == 0 || events[0].Subject == "" {
		t.Fatalf("consent refusal audited: %v %+v (want a row naming the member)", err, events)
	}
	if err := e.store.PutConsent(e.ctx(), &store.Consent{Subject: events[0].Subject, ClientID: "forum3p", Scopes: []string{"openid", "profile"}}); err != nil {
		t.Fatal(err)
	}
	if resp, body := password(); resp.StatusCode != http.StatusOK || body["id_token"] == nil {
		t.Fatalf("password grant with the consent recorded: %d %v", resp.StatusCode, body)
	}
}
