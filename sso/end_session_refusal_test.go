package sso_test

import (
	"io"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestEndSessionRefusalWording (review s9 Z12, the sso half): the end_session requests refused
// before op sees them (too large, a repeated parameter) speak of a sign-out request, as the
// bridge's page now heads them; authorization requests keep the sign-in wording.
func TestEndSessionRefusalWording(t *testing.T) {
	h := newHarness(t, withErrorPage)
	for _, tc := range []struct{ path, want, absent string }{
		{sso.PathEndSession + "?client_id=web&client_id=web", "sign-out request repeats the parameter client_id", "sign-in"},
		{sso.PathEndSession + "?state=" + strings.Repeat("a", 17<<10), "sign-out request is too large", "sign-in"},
		{sso.PathAuthorize + "?client_id=web&client_id=web", "sign-in request repeats the parameter client_id", "sign-out"},
	} {
		resp := h.get(tc.path)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), tc.want) || strings.Contains(string(b), tc.absent) {
			t.Errorf("%.60s: %d %q, want %q", tc.path, resp.StatusCode, b, tc.want)
		}
	}
}
