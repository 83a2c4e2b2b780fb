package asciiname

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidAsTheRegularExpressions: Valid accepts exactly what the regular expressions that
// the configuration used accepted, over every string of up to three bytes drawn from a sample
// of the bytes they treat differently, and longer strings around each length bound.
func TestValidAsTheRegularExpressions(t *testing.T) {
	for _, tc := range []struct {
		re          string
		max         int
		first, rest string
	}{
		{`^[a-z0-9][a-z0-9-]{0,31}$`, 32, Lower + Digits, Lower + Digits + "-"},   // upstream provider name
		{`^[a-z][a-z0-9_-]{0,31}$`, 32, Lower, Lower + Digits + "_-"},             // amr value
		{`^[a-z0-9][a-z0-9_-]{0,62}$`, 63, Lower + Digits, Lower + Digits + "_-"}, // SAML SP id
		{`^#[0-9a-fA-F]{6}$`, 7, "#", Hex},                                        // colour (length 7 checked apart)
	} {
		re := regexp.MustCompile(tc.re)
		check := func(s string) {
			t.Helper()
			want := re.MatchString(s)
			got := Valid(s, tc.max, tc.first, tc.rest)
			if tc.first == "#" {
				got = got && len(s) == 7
			}
			if got != want {
				t.Errorf("%s: Valid(%q) = %v, the expression says %v", tc.re, s, got, want)
			}
		}
		sample := []string{"a", "z", "A", "F", "G", "Z", "0", "9", "-", "_", "#", ".", " ", "\n", "é", "\xff", "\x00", "`", "{", "/", ":", "@", "[", "g", "f"}
		check("")
		for _, a := range sample {
			check(a)
			for _, b := range sample {
				check(a + b)
				for _, c := range sample {
					check(a + b + c)
				}
			}
		}
		for n := tc.max - 2; n <= tc.max+2; n++ {
			for _, fill := range []string{"a", "0", "-", "_", "f", "A"} {
				for _, head := range []string{"a", "0", "#", "-"} {
					if n >= 1 {
						check(head + strings.Repeat(fill, n-1))
						check(head + strings.Repeat(fill, n-1) + "\n")
					}
				}
			}
		}
	}
}
