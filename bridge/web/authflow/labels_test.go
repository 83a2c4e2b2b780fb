package authflow

import (
	"fmt"
	"testing"
	"time"
)

// TestMemberLabels: the consent page's labels per session are given back while fresh
// (labelFresh), not after, nor for a time before they were read (a clock set back); past
// maxLabels the stale ones go first, and the map never grows past the bound.
func TestMemberLabels(t *testing.T) {
	var l memberLabels
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	if _, ok := l.get("s1", t0); ok {
		t.Fatal("a label before any was read")
	}
	l.put("s1", "Alice Archer (alice)", t0)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},
		{t0.Add(labelFresh), true},
		{t0.Add(labelFresh + time.Second), false},
		{t0.Add(-time.Second), false},
	} {
		if got, ok := l.get("s1", tc.at); ok != tc.want || (ok && got != "Alice Archer (alice)") {
			t.Fatalf("at %v: %q %v, want %v", tc.at.Sub(t0), got, ok, tc.want)
		}
	}
	if _, ok := l.get("s2", t0); ok {
		t.Fatal("another session's label")
	}

	// The bound: the stale labels go first; the fresh one read last stays.
	for i := range maxLabels - 1 {
		l.put(fmt.Sprint("old", i), "x", t0)
	}
	later := t0.Add(2 * labelFresh)
	l.put("new", "Bob Staff (bob)", later)
	if len(l.m) != 1 {
		t.Fatalf("%d labels after the stale ones went, want 1", len(l.m))
	}
	if got, ok := l.get("new", later); !ok || got != "Bob Staff (bob)" {
		t.Fatalf("the label read last: %q %v", got, ok)
	}
	// All fresh at the bound: all go, and the new one is kept.
	for i := range maxLabels - 1 {
		l.put(fmt.Sprint("fresh", i), "x", later)
	}
	l.put("last", "y", later)
	if len(l.m) != 1 {
		t.Fatalf("%d labels at the bound with none stale, want 1", len(l.m))
	}
}
