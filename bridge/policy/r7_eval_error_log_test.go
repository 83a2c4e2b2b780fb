package policy

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestR7EvalErrorLogQuotesNoValue (review s28 R7-5): a computed claim or the standing rule that
// fails to evaluate on a member's value is logged with cel-go's error text, which quotes the
// value (`parsing time "<the member's AMS value>" ...`, `no such key: <key>`). The access rule's
// failure is logged with a fixed class only (access.FaultClass, review s26 R2-3); the engine's
// two warnings must not quote the value either, and still name the client and claim (or the
// rule) and a class.
func TestR7EvalErrorLogQuotesNoValue(t *testing.T) {
	const bad = "zebra-4711-value"
	cfg := Config{
		StandingRule: `timestamp(member.extra["chapter_paid"]) > now`,
		ExtraColumns: []string{"chapter_paid", "region"},
		Policies: map[string]ClientPolicy{"app": {Computed: map[string]Computed{
			"renewal": {Scope: "openid", Expr: `timestamp(member.extra["chapter_paid"])`},
			"zone":    {Scope: "openid", Expr: `{"north": 1}[member.extra["region"]]`},
		}}},
	}
	var logs bytes.Buffer
	e, err := Compile(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	m := ada()
	m.Extra = map[string]string{"chapter_paid": bad, "region": bad}
	if _, err := e.Claims(m, "s", "app", []string{"openid", "membership"}, sso.TargetUserinfo, testNow); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"claim=renewal", "claim=zone", "standing_rule failed", "client=app"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, bad) {
		t.Errorf("the log quotes the member's value %q:\n%s", bad, out)
	}
}
