package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestR2RuleFaultAuditsNoMemberData (review s26 R2-3; brief s26 O item 4: "the audit/log names
// the rule and the error (no member data beyond the subject)"): an access rule that fails to
// evaluate on a member's value (here timestamp() of an AMS column holding something that is not
// an RFC 3339 time) is refused as a server fault, and no audit row carries the member's value.
// cel-go's runtime errors quote the value they could not use ("invalid RFC 3339 timestamp
// \"...\""; strconv's errors for int()/double(); "no such key: <key>" for a key taken from the
// member), and branch O writes d.Err().Error() whole into the access.rule_error row's detail
// (and the log). Passes on main (the row said "access rule"); fails on O.
func TestR2RuleFaultAuditsNoMemberData(t *testing.T) {
	const private = "r2-private-value-of-alice"
	e := grantEnv(t, func(c *bridge.Config) {
		if c.Policy.Policies == nil {
			c.Policy.Policies = map[string]policy.ClientPolicy{}
		}
		c.Policy.Policies["other"] = policy.ClientPolicy{AccessRule: `timestamp(member.extra["region"]) > timestamp("2000-01-01T00:00:00Z")`}
	})
	other, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	e.dir.Update("alice", func(m *legacy.Member) { m.Extra = map[string]string{"region": private} })
	b := e.browser()
	p := b.Login(b.Get(other.AuthCodeURL("p")), "alice", "alice-password")
	if p.Status < http.StatusBadRequest || strings.Contains(p.Body, private) {
		t.Fatalf("sign-in while the access rule fails to evaluate: %d %s %.400s", p.Status, p.URL, p.Body)
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Detail, private) {
			t.Errorf("audit row %s (client %s) carries the member's AMS value: %q", ev.Event, ev.ClientID, ev.Detail)
		}
	}
}
