package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// The membership standing: built-in rule with the grace period, or the association's CEL rule,
// the same in claims (is_current, membership_standing) and in expressions (member.is_current).
func TestMembershipStandingRule(t *testing.T) {
	bob := lapsed() // paid through 2025-12-31; testNow is 2026-03-10
	for _, tc := range []struct {
		name         string
		grace        time.Duration
		rule         string
		m            *legacy.Member
		wantStanding string
		wantCurrent  bool
	}{
		{"built-in: lapsed", 0, "", bob, legacy.StandingLapsed, false},
		{"built-in: grace of 90 days", 90 * 24 * time.Hour, "", bob, legacy.StandingGrace, true},
		{"built-in: current", 0, "", ada(), legacy.StandingCurrent, true},
		{"rule: paid-through within a year", 0, `member.paid_thru + duration("8760h") > now`, bob, legacy.StandingCurrent, true},
		{"rule: only member type REG with status A", 0, `member.member_type == "REG" && member.status == "A" && member.standing != "lapsed"`, bob, legacy.StandingLapsed, false},
		{"rule agrees", 0, `member.is_current`, ada(), legacy.StandingCurrent, true},
		{"rule refuses a current member", 0, `"Board" in member.roles == false`, ada(), legacy.StandingLapsed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(Config{MembershipGrace: tc.grace, StandingRule: tc.rule})
			if err != nil {
				t.Fatal(err)
			}
			ms := e.Membership(tc.m, "s", "c", testNow)
			if ms.Standing != tc.wantStanding || ms.Current() != tc.wantCurrent || ms.Reason == "" {
				t.Fatalf("Membership = %+v, want %s current=%v", ms, tc.wantStanding, tc.wantCurrent)
			}
			c, err := e.Claims(tc.m, "s", "c", []string{"openid", "membership"}, sso.TargetUserinfo, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if c["is_current"] != tc.wantCurrent || c["membership_standing"] != tc.wantStanding {
				t.Fatalf("claims %v", c)
			}
		})
	}
	if _, err := Compile(Config{StandingRule: `member.member_type`}); err == nil || !strings.Contains(err.Error(), "legacy.standing_rule") {
		t.Fatalf("non-bool rule: %v", err)
	}
	// A rule that fails at evaluation keeps a built-in answer that is not current (see
	// TestStandingRuleErrorFailsClosed for one that is).
	e, err := Compile(Config{StandingRule: `member.extra["nope"] == "x"`})
	if err != nil {
		t.Fatal(err)
	}
	if ms := e.Membership(bob, "s", "c", testNow); ms.Standing != legacy.StandingLapsed {
		t.Fatalf("failing rule: %+v", ms)
	}
}
