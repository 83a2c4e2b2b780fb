package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// refreshOnce posts a refresh grant for client id/secret and returns the status and the answer.
func refreshOnce(t *testing.T, e *env, id, secret, token string) (int, map[string]any) {
	t.Helper()
	resp, m := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": token}, id, secret)
	return resp.StatusCode, m
}

// TestRefreshAfterPolicyChanges (review s10 V10, V11): a refresh-token family granted on a
// password alone stops working once an administrator requires a second factor at the app
// (here through the admin API), and one granted on the AMS password stops working once the AMS
// records a password change after the sign-in: invalid_grant saying why, audited as
// token.refresh_denied. Before, both refreshes answered 200 for the family's whole lifetime.
func TestRefreshAfterPolicyChanges(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) { c.Admin.Token = adminToken })
	srv := httptest.NewServer(e.bridge.AdminHandler())
	t.Cleanup(srv.Close)
	adm := adminClient{t: t, url: srv.URL}
	e.dir.Add(&legacy.Member{Key: "44444444-4444-4444-4444-444444444444", MemberID: "1004", Login: "carol", Status: "A",
		Roles: []string{}, Standing: legacy.Standing{Approved: true}}, "carol-password")
	reg := map[string]any{"id": "mfa1", "name": "MFA App", "trusted": true, "redirect_uris": []string{e.rp + "/mfa1"},
		"grant_types": []string{"authorization_code", "refresh_token"}}
	secret := adm.ok(http.MethodPost, "/admin/clients", reg)["client_secret"].(string)
	cfg, _ := e.oauth("mfa1", secret, e.rp+"/mfa1", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	grant := func(login string) string {
		t.Helper()
		tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), login, login+"-password"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("%s: code exchange: %v %v", login, err, tok)
		}
		status, m := refreshOnce(t, e, "mfa1", secret, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("%s: refresh before any change: %d %v", login, status, m)
		}
		return m["refresh_token"].(string)
	}
	refused := func(who, token, want string) {
		t.Helper()
		status, m := refreshOnce(t, e, "mfa1", secret, token)
		if status != http.StatusBadRequest || m["error"] != "invalid_grant" || m["error_description"] != want {
			t.Fatalf("%s: refresh = %d %v, want invalid_grant %q", who, status, m, want)
		}
	}

	// The password: bob's family, then the AMS records a change of bob's password.
	bobToken := grant("bob")
	e.dir.Update("bob", func(m *legacy.Member) {
		m.Standing.PasswordChangedAt = time.Now().Add(hooks.PasswordChangeSkew + time.Minute)
	})
	refused("password changed", bobToken, hooks.ReasonPasswordChanged)
	// A change recorded within the skew after the sign-in is taken as made before it.
	carolToken := grant("carol")
	e.dir.Update("carol", func(m *legacy.Member) { m.Standing.PasswordChangedAt = time.Now().Add(hooks.PasswordChangeSkew / 2) })
	if status, m := refreshOnce(t, e, "mfa1", secret, carolToken); status != http.StatusOK {
		t.Fatalf("password changed within the skew: %d %v", status, m)
	}

	// The second factor: alice's family, then the app requires one.
	aliceToken := grant("alice")
	reg["mfa"] = "required"
	adm.ok(http.MethodPut, "/admin/clients/mfa1", reg)
	refused("mfa required", aliceToken, hooks.ReasonSecondFactor)
	// And again: the family is refused, not spent, until the policy is relaxed.
	refused("mfa required, again", aliceToken, hooks.ReasonSecondFactor)
	delete(reg, "mfa")
	adm.ok(http.MethodPut, "/admin/clients/mfa1", reg)
	if status, m := refreshOnce(t, e, "mfa1", secret, aliceToken); status != http.StatusOK {
		t.Fatalf("mfa optional again: %d %v", status, m)
	}

	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "token.refresh_denied"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range evs {
		if ev.ClientID == "mfa1" {
			got[ev.Detail]++
		}
	}
	// alice's two refusals for the same reason: one row per member, app, reason and minute
	// (audit.Log.Repeated, brief s23 L2), two if a minute passed between them.
	if n := got[hooks.ReasonSecondFactor]; n < 1 || n > 2 || got[hooks.ReasonPasswordChanged] != 1 {
		t.Fatalf("audit token.refresh_denied: %v", got)
	}
}

// TestPasswordChangeEndsSession (review s10 V11): a bridge session opened with the AMS password
// ends once the AMS records a change of that password after its sign-in: the next authorize in
// that browser asks for the password again instead of answering from the session. A change
// within the skew is taken as made before. Before, the session went on answering for its whole
// lifetime (12 hours).
func TestPasswordChangeEndsSession(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s1", oidc.Nonce("n")), "alice", "alice-password")
	answered := func() bool {
		t.Helper()
		p := b.Get(web.AuthCodeURL("s2", oidc.Nonce("n")))
		return p.Location != ""
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.PasswordChangedAt = time.Now().Add(hooks.PasswordChangeSkew / 2) })
	if !answered() {
		t.Fatal("a password change within the skew ended the session")
	}
	e.dir.Update("alice", func(m *legacy.Member) {
		m.Standing.PasswordChangedAt = time.Now().Add(hooks.PasswordChangeSkew + time.Minute)
	})
	if answered() {
		t.Fatal("the session answered an authorize after the member's password was changed")
	}
	// A new sign-in (after the change) is a session again.
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.PasswordChangedAt = time.Now().Add(-time.Minute) })
	e.signIn(b, web.AuthCodeURL("s3", oidc.Nonce("n")), "alice", "alice-password")
	if !answered() {
		t.Fatal("the new session after the change does not answer")
	}
}
