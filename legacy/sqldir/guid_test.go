package sqldir

import (
	"encoding/hex"
	"strings"
	"testing"
)

// parseGUIDJoined is ParseGUID as it was before it read the digits in place: the five groups
// joined, then hex.Decode. FuzzParseGUID pins that both read the same GUIDs.
func parseGUIDJoined(s string) (GUID, bool) {
	var g GUID
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, false
	}
	return g, true
}

func FuzzParseGUID(f *testing.F) {
	for _, s := range []string{"6F9619FF-8B86-D011-B42D-00C04FC964FF", "6f9619ff-8b86-d011-b42d-00c04fc964ff",
		"{6F9619FF-8B86-D011-B42D-00C04FC964FF}", " 6F9619FF-8B86-D011-B42D-00C04FC964FF ", "6F9619FF-8B86-D011-B42D-00C04FC964FG",
		"6F9619FF+8B86-D011-B42D-00C04FC964FF", "", "{}", "6F9619FF8B86D011B42D00C04FC964FF0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGUID(s)
		want, ok := parseGUIDJoined(s)
		if (err == nil) != ok || ok && g != want {
			t.Fatalf("ParseGUID(%q) = %v, %v; joined and hex.Decode: %v, %v", s, g, err, want, ok)
		}
		if err == nil {
			if g2, err := ParseGUID(g.String()); err != nil || g2 != g {
				t.Fatalf("ParseGUID(%q) does not read back %v: %v, %v", g.String(), g, g2, err)
			}
		}
	})
}

// TestCanonicalKeyNotCopied: a text key already in canonical form (the demo's, and iMIS's
// ProviderKey after upper-casing) is returned as it is, with no allocation; any other
// spelling of a GUID is still returned canonical.
func TestCanonicalKeyNotCopied(t *testing.T) {
	const canon = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	lite := dialectFor(DriverSQLite)
	var v any = canon
	allocs := testing.AllocsPerRun(100, func() {
		if k, err := lite.asKey(v, false); err != nil || k != canon {
			t.Fatalf("asKey(%q) = %q, %v", canon, k, err)
		}
	})
	if allocs != 0 {
		t.Errorf("asKey of a canonical key: %.0f allocations, want 0", allocs)
	}
	for _, in := range []string{strings.ToLower(canon), "{" + canon + "}", " " + canon} {
		if k, err := lite.asKey(in, false); err != nil || k != canon {
			t.Errorf("asKey(%q) = %q, %v, want %q", in, k, err, canon)
		}
	}
}
