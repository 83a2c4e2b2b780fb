package logout

import (
	"net/http"
	"testing"
)

// TestTopLevelNavigation (review s20 X20-3): /logout/ams takes only a top-level navigation as
// the AMS website's sign-out; every subresource and frame a browser labels is refused, and a
// browser without Fetch Metadata keeps counting.
func TestTopLevelNavigation(t *testing.T) {
	for _, tc := range []struct {
		mode, dest string
		want       bool
	}{
		{"", "", true}, // no Fetch Metadata (an old browser)
		{"navigate", "document", true},
		{"navigate", "", true},
		{"", "document", true},
		{"no-cors", "image", false},
		{"navigate", "iframe", false},
		{"navigate", "frame", false},
		{"navigate", "embed", false},
		{"navigate", "object", false},
		{"cors", "empty", false},
		{"same-origin", "empty", false},
		{"no-cors", "script", false},
		{"no-cors", "", false},
		{"", "image", false},
		{"websocket", "websocket", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "https://sso.example.org/logout/ams", nil)
		if tc.mode != "" {
			r.Header.Set("Sec-Fetch-Mode", tc.mode)
		}
		if tc.dest != "" {
			r.Header.Set("Sec-Fetch-Dest", tc.dest)
		}
		if got := topLevelNavigation(r); got != tc.want {
			t.Errorf("Sec-Fetch-Mode %q, Sec-Fetch-Dest %q: %v, want %v", tc.mode, tc.dest, got, tc.want)
		}
	}
}
