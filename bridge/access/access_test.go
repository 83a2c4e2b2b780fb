package access_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// member is a current member in good standing; edit changes it.
func member(edit func(m *legacy.Member)) *legacy.Member {
	m := &legacy.Member{Key: "K1", Login: "alice", MemberType: "REG", Status: "A", MemberRecord: true,
		PaidThrough: now.AddDate(0, 1, 0), Standing: legacy.Standing{Approved: true}}
	if edit != nil {
		edit(m)
	}
	return m
}

// rules is a policy engine with an access rule on "board" (roles contain Board), a failing
// rule on "broken", a grace period of 30 days, and no rule elsewhere.
func rules(t *testing.T) *policy.Engine {
	t.Helper()
	e, err := policy.Compile(policy.Config{MembershipGrace: 30 * 24 * time.Hour, Policies: map[string]policy.ClientPolicy{
		"board":  {AccessRule: `"Board" in member.roles`},
		"broken": {AccessRule: `member.extra["missing"] == "x"`},
	}}, policy.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var _ access.Decider = (*access.Checker)(nil)

func TestDecide(t *testing.T) {
	lapsed := func(m *legacy.Member) { m.PaidThrough = now.AddDate(0, -2, 0) }
	inGrace := func(m *legacy.Member) { m.PaidThrough = now.AddDate(0, 0, -10) }
	tests := []struct {
		name     string
		m        *legacy.Member
		client   string
		rule     access.Rule
		reason   string
		sentinel error // errors.Is(Err(), sentinel) besides sso.ErrAccessDenied
	}{
		{"allowed, no client", member(nil), access.AnyClient, access.Allow, "ok", nil},
		{"allowed, client without rules", member(nil), "web", access.Allow, "ok", nil},
		{"disabled", member(func(m *legacy.Member) { m.Standing.Disabled = true }), "web", access.Standing, "disabled", legacy.ErrDisabled},
		{"locked out, no client", member(func(m *legacy.Member) { m.Standing.LockedOut = true }), access.AnyClient, access.Standing, "locked_out", legacy.ErrLockedOut},
		{"not approved", member(func(m *legacy.Member) { m.Standing.Approved = false }), "web", access.Standing, "not_approved", legacy.ErrNotApproved},
		{"account expired", member(func(m *legacy.Member) { m.Standing.ExpirationDate = now.Add(-time.Hour) }), "web", access.Standing, "account_expired", legacy.ErrAccountExpired},
		{"deleted", member(func(m *legacy.Member) { m.Standing.Deleted = true }), "web", access.Standing, "not_member", legacy.ErrNotMember},
		{"standing before client rules", member(func(m *legacy.Member) { m.Standing.LockedOut = true; lapsed(m) }), "portal", access.Standing, "locked_out", legacy.ErrLockedOut},
		{"lapsed at require_current client", member(lapsed), "portal", access.RequireCurrent, access.ReasonNotCurrent, nil},
		{"in grace at require_current client", member(inGrace), "portal", access.Allow, "ok", nil},
		{"lapsed elsewhere", member(lapsed), "web", access.Allow, "ok", nil},
		{"lapsed, no client", member(lapsed), access.AnyClient, access.Allow, "ok", nil},
		{"access rule refuses", member(nil), "board", access.AccessRule, access.ReasonAccessRule, nil},
		{"access rule admits", member(func(m *legacy.Member) { m.Roles = []string{"Board"} }), "board", access.Allow, "ok", nil},
		{"require_current before access rule", member(lapsed), "board-portal", access.RequireCurrent, access.ReasonNotCurrent, nil},
		{"access rule fails to evaluate", member(nil), "broken", access.AccessRule, access.ReasonRuleError, nil},
	}
	var logs bytes.Buffer
	c := access.New(rules(t), []string{"portal", "board-portal"}, slog.New(slog.NewTextHandler(&logs, nil)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := c.Decide(context.Background(), tt.m, "sub-1", tt.client, now)
			if d.Rule != tt.rule || d.Reason != tt.reason {
				t.Fatalf("Decide = %v/%q, want %v/%q", d.Rule, d.Reason, tt.rule, tt.reason)
			}
			if d.Allowed() != (tt.rule == access.Allow) {
				t.Fatalf("Allowed() = %v", d.Allowed())
			}
			err := d.Err()
			if d.Allowed() {
				if err != nil || d.Message != "" {
					t.Fatalf("allowed with Err %v, message %q", err, d.Message)
				}
				return
			}
			if tt.reason == access.ReasonRuleError {
				// A rule that fails to evaluate refuses, as a server fault (review s25 Y-10): its
				// Err is no member refusal (a refresh would answer invalid_grant and the app drop
				// its refresh token) and carries the rule's error.
				if !d.Fault() || errors.Is(err, sso.ErrAccessDenied) || !errors.Is(err, access.ErrRuleFault) || !errors.Is(err, sso.ErrAccessRuleFault) || !errors.Is(err, d.Cause) || d.Cause == nil {
					t.Fatalf("rule fault: Fault() %v, Err() = %v (Cause %v): want access.ErrRuleFault and the cause, not sso.ErrAccessDenied", d.Fault(), err, d.Cause)
				}
			} else if !errors.Is(err, sso.ErrAccessDenied) || d.Fault() {
				t.Fatalf("Err() = %v (Fault %v), not sso.ErrAccessDenied", err, d.Fault())
			}
			if tt.sentinel != nil && (!errors.Is(err, tt.sentinel) || !errors.Is(d.Cause, tt.sentinel) || legacy.Reason(err) != tt.reason) {
				t.Fatalf("Err() = %v, Cause %v: want %v", err, d.Cause, tt.sentinel)
			}
			if d.Message == "" {
				t.Fatal("no member-facing message")
			}
		})
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "access rule failed to evaluate") || !strings.Contains(l, "client=broken") ||
		!strings.Contains(l, "rule=policies[broken].access_rule") || !strings.Contains(l, "subject=sub-1") {
		t.Fatalf("evaluation failure not logged: %s", logs.String())
	}
}

// TestDecideDefaultRules: without a policy engine, require_current uses the built-in rule with
// no grace period, and no client has an access rule.
func TestDecideDefaultRules(t *testing.T) {
	c := access.New(nil, []string{"portal"}, nil)
	inGrace := member(func(m *legacy.Member) { m.PaidThrough = now.AddDate(0, 0, -10) })
	if d := c.Decide(context.Background(), inGrace, "sub-1", "portal", now); d.Rule != access.RequireCurrent {
		t.Fatalf("in grace without grace period = %v", d.Rule)
	}
	if d := c.Decide(context.Background(), inGrace, "sub-1", "board", now); !d.Allowed() {
		t.Fatalf("no access rules = %v", d.Rule)
	}
}

// TestDecisionErrText: the error texts the refresh grant's audit row carries.
func TestDecisionErrText(t *testing.T) {
	for _, tt := range []struct {
		d    access.Decision
		want string
	}{
		{access.Decision{Rule: access.Standing, Reason: "locked_out", Cause: legacy.ErrLockedOut}, "sso: access denied: locked_out"},
		{access.Decision{Rule: access.RequireCurrent, Reason: access.ReasonNotCurrent}, "sso: access denied: the app requires a current membership"},
		{access.Decision{Rule: access.AccessRule, Reason: access.ReasonAccessRule}, "sso: access denied: the app's access rule does not admit this member"},
		{access.Decision{Rule: access.AccessRule, Reason: access.ReasonRuleError, Cause: &access.RuleFaultError{Rule: "policies[x].access_rule", Class: access.ClassNoSuchKey}},
			"access: the app's access rule could not be evaluated: policies[x].access_rule: no such key"},
	} {
		if got := tt.d.Err().Error(); got != tt.want {
			t.Errorf("%v: Err() = %q, want %q", tt.d.Rule, got, tt.want)
		}
	}
}

// TestRuleFaultNamesNoMemberData (review s26 R2-3): an access rule that fails to evaluate on
// the member's own values is recorded by the rule's name and a fixed class of error: the
// Decision's Err and Cause (audit rows, the provisioning outbox) and the log line never quote
// the value cel-go's error names (`invalid RFC 3339 timestamp "<value>"`, `no such key:
// <key>`).
func TestRuleFaultNamesNoMemberData(t *testing.T) {
	const private = "private-ams-value-of-alice"
	withExtra := func(m *legacy.Member) { m.Extra = map[string]string{"region": private, "since": private} }
	for _, tt := range []struct {
		name, rule, class string
	}{
		{"timestamp of a member value", `timestamp(member.extra["since"]) > timestamp("2000-01-01T00:00:00Z")`, access.ClassTimestamp},
		{"duration of a member value", `duration(member.extra["since"]) > duration("1s")`, access.ClassTimestamp},
		{"map key taken from the member", `{"a": true}[member.extra["region"]]`, access.ClassNoSuchKey},
		{"int of a member value", `int(member.extra["region"]) > 3`, access.ClassConversion},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := policy.Compile(policy.Config{Policies: map[string]policy.ClientPolicy{"app": {AccessRule: tt.rule}}},
				policy.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			d := access.New(e, nil, slog.New(slog.NewTextHandler(&logs, nil))).Decide(context.Background(), member(withExtra), "sub-1", "app", now)
			if !d.Fault() {
				t.Fatalf("Decide = %v/%q, want a rule fault", d.Rule, d.Reason)
			}
			var fe *access.RuleFaultError
			if !errors.As(d.Cause, &fe) || fe.Rule != "policies[app].access_rule" || fe.Class != tt.class {
				t.Fatalf("Cause = %#v, want rule policies[app].access_rule, class %q", d.Cause, tt.class)
			}
			want := "access: the app's access rule could not be evaluated: policies[app].access_rule: " + tt.class
			if got := d.Err().Error(); got != want {
				t.Errorf("Err() = %q, want %q", got, want)
			}
			if l := logs.String(); strings.Contains(l, private) || !strings.Contains(l, "rule=policies[app].access_rule") {
				t.Errorf("log line quotes the member's value or misses the rule: %s", l)
			}
		})
	}
}
