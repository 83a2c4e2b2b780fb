package sso_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// FuzzNormalizeUserCode: whatever a member types, a user code accepted is 8 letters of the
// RFC 8628 6.1 charset, and its display form normalises back to it.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDFGHJ", "BCDF-GHJA", "", "ßCDF-GHJK", strings.Repeat("B", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := sso.NormalizeUserCode(typed)
		if !ok {
			return
		}
		if len(code) != 8 || strings.Trim(code, "BCDFGHJKLMNPQRSTVWXZ") != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q", typed, code)
		}
		if again, ok := sso.NormalizeUserCode(sso.FormatUserCode(code)); !ok || again != code {
			t.Fatalf("FormatUserCode(%q) = %q does not normalise back (%q, %v)", code, sso.FormatUserCode(code), again, ok)
		}
	})
}
