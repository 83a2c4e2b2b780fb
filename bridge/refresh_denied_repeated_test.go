package bridge_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/legacy"
)

// TestRefreshDeniedRepeatedAuditBounded (brief s23 L2 item 2): a refresh refused for the member
// (here the access rule: alice disabled in the AMS) leaves the refresh token live, so an app
// retrying in a loop was refused on every attempt and each refusal appended a
// token.refresh_denied row: 100 attempts, 100 rows. Now the row is written once per member,
// app, reason and minute (audit.Log.Repeated), the first attempt's, while the metrics still
// count all 100. The bound on rows allows one more per minute the loop took (no timing
// assumption).
func TestRefreshDeniedRepeatedAuditBounded(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %v %v", err, tok)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	rows := func() int {
		return countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'token.refresh_denied' AND client_id = 'web'")
	}
	before, _ := scrapeMetrics(t, admin.URL)
	const series = `ssobridge_audit_events_total{event="token.refresh_denied"}`
	start := time.Now()
	for i := range 100 {
		status, m := refreshOnce(t, e, "web", webSecret, tok.RefreshToken)
		if status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("attempt %d: %d %v, want invalid_grant", i+1, status, m)
		}
		if i == 0 && rows() != 1 {
			t.Fatalf("the first refusal wrote %d rows, want 1", rows())
		}
	}
	minutes := int(time.Since(start) / time.Minute)
	after, _ := scrapeMetrics(t, admin.URL)
	if n := rows(); n < 1 || n > 1+minutes {
		t.Fatalf("100 refused refreshes in %d whole minutes wrote %d token.refresh_denied rows, want 1 to %d", minutes, n, 1+minutes)
	}
	if d := after[series] - before[series]; d != 100 {
		t.Fatalf("%s changed by %v, want 100", series, d)
	}
	// The token is still live: once alice may use the app again, it refreshes.
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = false })
	if status, m := refreshOnce(t, e, "web", webSecret, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh after re-enabling: %d %v", status, m)
	}
}
