package sqldir

import (
	"testing"
	"time"
)

// TestParseWallClock: the fast path reads what time.ParseInLocation reads with the first text
// layout, exactly, and leaves everything else to it.
func TestParseWallClock(t *testing.T) {
	loc := time.FixedZone("app", -6*3600)
	for _, s := range []string{
		"2025-01-15 12:00:00.000", "2025-01-15 12:00:00", "2024-02-29 23:59:59.999", "1754-01-01 00:00:00.000",
		"2025-12-31 00:00:00.1", "2025-06-30 07:08:09.123456789", "0001-01-01 00:00:00.000",
	} {
		got, ok := parseWallClock(s, loc)
		want, err := time.ParseInLocation(textTimeLayouts[0], s, loc)
		if !ok || err != nil || !got.Equal(want) || got.Location() != want.Location() || got.String() != want.String() {
			t.Errorf("%q: fast %v %v, time.ParseInLocation %v %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{
		"2025-02-29 00:00:00", "2025-13-01 00:00:00", "2025-04-31 00:00:00", "2025-01-15 24:00:00", "2025-01-15 12:60:00",
		"2025-01-15 12:00:60", "2025-01-15T12:00:00", "2025-01-15 12:00:00.", "2025-01-15 12:00:00.1234567890",
		"2025-01-15 12:00", "2025-01-15", "+025-01-15 12:00:00", "2025-01-15 12:00:00Z", "2025-01-15 12:00:00.00x",
		"2025-00-10 12:00:00", "2025-01-00 12:00:00", " 2025-01-15 12:00:00",
	} {
		if got, ok := parseWallClock(s, loc); ok {
			t.Errorf("%q: fast path read %v; it must leave the string to time.ParseInLocation", s, got)
		}
	}
}

// FuzzParseWallClock: whatever the fast path reads, time.ParseInLocation reads the same.
func FuzzParseWallClock(f *testing.F) {
	f.Add("2025-01-15 12:00:00.000")
	f.Add("2024-02-29 23:59:59.999999999")
	f.Add("2025-02-29 00:00:00")
	loc := time.FixedZone("app", 5*3600+1800)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseWallClock(s, loc)
		if !ok {
			return
		}
		want, err := time.ParseInLocation(textTimeLayouts[0], s, loc)
		if err != nil || !got.Equal(want) || got.String() != want.String() {
			t.Fatalf("%q: fast %v, time.ParseInLocation %v %v", s, got, want, err)
		}
	})
}
