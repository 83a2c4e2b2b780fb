package policy

import (
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Review s14 X: legacy.standing_rule replaces the built-in "is current" rule, usually with a
// stricter one (accrual billing, a member type list, an extra column). A rule that fails to
// evaluate for a member (a bad timestamp in an extra column, an overflow) must not fall back to
// the built-in answer when that answer is "current": the member would be admitted to every
// require_current app and released is_current=true, the opposite of what the rule says for the
// members it can read. Fail closed: not current, with the reason.
func TestStandingRuleErrorFailsClosed(t *testing.T) {
	e, err := Compile(Config{StandingRule: `timestamp(member.extra["chapter_paid"]) > now`, ExtraColumns: []string{"chapter_paid"}})
	if err != nil {
		t.Fatal(err)
	}
	m := ada() // current under the built-in rule
	m.Extra = map[string]string{"chapter_paid": "not a date"}
	if !m.MembershipAt(testNow, 0).Current() {
		t.Fatal("fixture: ada should be current under the built-in rule")
	}
	ms := e.Membership(m, "s", "c", testNow)
	if ms.Current() {
		t.Errorf("standing_rule failed to evaluate, yet Membership = %+v (current): fails open", ms)
	}
	c, err := e.Claims(m, "s", "c", []string{"openid", "membership"}, sso.TargetUserinfo, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c["is_current"] == true {
		t.Errorf("claims release is_current=true for a member the standing rule could not judge: %v", c)
	}
	// A member the rule reads stays as the rule says.
	m2 := ada()
	m2.Extra = map[string]string{"chapter_paid": "2099-01-01T00:00:00Z"}
	if ms := e.Membership(m2, "s", "c", testNow); !ms.Current() || ms.Standing != legacy.StandingCurrent {
		t.Errorf("readable member: %+v", ms)
	}
}
