package imis

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// The T-SQL preset stays in the subset the fake TDS server rewrites: parameters, no string
// building, no vendor functions beyond the listed ones.
func TestIMISPresetIsSimpleTSQL(t *testing.T) {
	for name, q := range PresetIMIS() {
		if strings.Contains(q, "?") || strings.Contains(q, "%s") || strings.Contains(q, "+ @") {
			t.Errorf("%s: placeholder or string building in %q", name, q)
		}
		for _, banned := range []string{"GREATEST(", "CROSS APPLY", "OUTER APPLY", "FOR JSON", "STRING_AGG", "IIF("} {
			if strings.Contains(strings.ToUpper(q), banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
		if name != sqldir.QueryPing && name != sqldir.QueryAppClock && name != sqldir.QueryDBClock && name != sqldir.QueryPasswordExpiry && !strings.Contains(q, "@p1") {
			t.Errorf("%s has no @p1 parameter", name)
		}
	}
}
