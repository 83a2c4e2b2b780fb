package policy

import "testing"

// TestCELOnlyWithExpressions: the CEL environment (several MB, and most of Compile's time) is
// built only for a configuration with an expression (a standing rule, a computed claim, an
// access rule), not for the usual one without.
func TestCELOnlyWithExpressions(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want bool
	}{
		{"no expression", Config{}, false},
		{"a standing rule", Config{StandingRule: "member.status == 'A'"}, true},
		{"an access rule", Config{Policies: map[string]ClientPolicy{"portal": {AccessRule: "true"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if e.builtCEL != tc.want {
				t.Fatalf("CEL environment built: %v, want %v", e.builtCEL, tc.want)
			}
		})
	}
}

// BenchmarkCompile: Compile of a configuration without an expression (no CEL environment) and
// with one (the environment built).
func BenchmarkCompile(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"no expression", Config{}},
		{"standing rule", Config{StandingRule: "member.status == 'A'"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(bc.cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
