package bridge_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestConsoleWithoutSecondFactorWarns: the admin console (trusted clients, factor resets,
// ending sessions) opened with a password alone is said at start-up, naming the console roles
// that mfa.required_roles leaves out; nothing is said once every console role needs a factor.
func TestConsoleWithoutSecondFactorWarns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		required []string
		warn     bool
	}{
		{"no required roles", nil, true},
		{"another role required", []string{"Staff"}, true},
		{"console role required", []string{"Staff", "SysAdmin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged lockedBuffer
			aln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			aln.Close()
			newEnvDeps(t, false, nil, envDeps{logger: slog.New(slog.NewJSONHandler(&logged, nil))}, func(c *bridge.Config) {
				c.Admin.Token = adminToken
				c.Admin.Listen = aln.Addr().String()
				c.Admin.Console.Roles = []string{"SysAdmin"}
				c.MFA.RequiredRoles = tc.required
			})
			out := logged.String()
			got := strings.Contains(out, "admin console: members holding these roles open it with a password alone")
			if got != tc.warn {
				t.Fatalf("warning logged %v, want %v:\n%s", got, tc.warn, out)
			}
			if tc.warn && !strings.Contains(out, `"roles":["SysAdmin"]`) {
				t.Fatalf("the warning does not name the role:\n%s", out)
			}
		})
	}
}
