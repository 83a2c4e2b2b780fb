package bridge_test

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/directories"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	legacydemo "github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestRequireCurrentUsesTheStandingRule: require_current follows the same membership rule as
// the tokens' is_current: the grace period (legacy.membership_grace) and the association's
// standing_rule, for sign-in and for the shadow user.
func TestRequireCurrentUsesTheStandingRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		rule  string
		paid  time.Time
		want  bool
	}{
		{"lapsed ten days ago, a day of grace", 24 * time.Hour, "", time.Now().AddDate(0, 0, -10), false},
		{"lapsed ten days ago, 30 days of grace", 30 * 24 * time.Hour, "", time.Now().AddDate(0, 0, -10), true},
		{"lapsed three months ago, rule: a year after paid-through", time.Hour, `member.paid_thru + duration("8760h") > now`, time.Now().AddDate(0, -3, 0), true},
		{"paid, rule: staff only", time.Hour, `member.staff`, time.Now().AddDate(1, 0, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *bridge.Config) {
				c.Legacy = directories.LegacyConfig{Type: "demo", Config: &legacydemo.Config{
					Config: sqldir.Config{MembershipGrace: tc.grace, StandingRule: tc.rule}}}
				c.Provisioning = map[string]provisioning.Target{"web": {RequireCurrent: true, AllowInternal: true,
					Settings: &webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}}
			})
			e.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = tc.paid })
			web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			b := e.browser()
			p := b.Login(b.Get(web.AuthCodeURL("s")), "alice", "alice-password")
			if got := p.Location != ""; got != tc.want {
				t.Fatalf("signed in at the require_current app: %v (%d), want %v", got, p.Status, tc.want)
			}
		})
	}
}
