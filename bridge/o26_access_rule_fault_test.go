package bridge_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// Review s25 Y-10 (Low): an access rule that fails to evaluate (here `member.extra["region"]`
// for a member without that column: CEL "no such key") refused as if the member's membership
// did not allow the app: the sign-in page said so (403), and the refresh grant answered
// invalid_grant, so the app dropped its refresh token and, once the operator mended the rule,
// every member had to sign in again. It still refuses (fails closed), as the server's fault:
// the page says the app cannot be opened right now (500), the audit row access.rule_error
// names the rule and its error's class, and the refresh answers 500 server_error (session 26
// R2-4; was 503 temporarily_unavailable) with the refresh token kept: it refreshes once the
// member's data (or the rule) is mended.
func TestO26AccessRuleFaultIsAServerFault(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) {
		if c.Policy.Policies == nil {
			c.Policy.Policies = map[string]policy.ClientPolicy{}
		}
		c.Policy.Policies["other"] = policy.ClientPolicy{AccessRule: `member.extra["region"] == "north"`}
	})
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	e.dir.Update("alice", func(m *legacy.Member) { m.Extra = map[string]string{"region": "north"} })
	tok, err := other.Exchange(e.ctx(), e.signIn(e.browser(), other.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("sign-in while the rule admits: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
	}

	e.dir.Update("alice", func(m *legacy.Member) { m.Extra = nil })
	_, err = other.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "server_error" || re.Response.StatusCode != http.StatusInternalServerError {
		// 500 server_error (review s26 R2-4), not invalid_grant: the app would drop the token.
		t.Fatalf("refresh while the access rule fails to evaluate: %v, want 500 server_error", err)
	}

	b := e.browser()
	p := b.Login(b.Get(other.AuthCodeURL("p")), "alice", "alice-password")
	if p.Status != http.StatusInternalServerError || !strings.Contains(p.Body, "cannot be opened right now") ||
		strings.Contains(p.Body, "not available with your membership") {
		t.Fatalf("sign-in while the access rule fails to evaluate: %d %s %.600s, want 500 'cannot be opened right now'", p.Status, p.URL, p.Body)
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "access.rule_error"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].ClientID != "other" || !strings.Contains(evs[0].Detail, "policies[other].access_rule") ||
		!strings.Contains(evs[0].Detail, "no such key") {
		// The error's class, not its text (review s26 R2-3: cel-go's may quote member data).
		t.Fatalf("access.rule_error rows %+v, want one naming the rule and its error class", evs)
	}
	if denied, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "token.refresh_denied"}); len(denied) != 0 {
		t.Fatalf("a rule fault audited as a refused refresh: %+v", denied)
	}

	// The refresh token was kept: with the member's data mended it refreshes.
	e.dir.Update("alice", func(m *legacy.Member) { m.Extra = map[string]string{"region": "north"} })
	if _, err := other.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh once the rule evaluates again: %v", err)
	}
}
