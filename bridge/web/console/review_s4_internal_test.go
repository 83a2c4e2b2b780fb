package console

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestDisabledAdministratorLosesConsole (review s4): the console admits a member who may sign in
// and holds a console role. An administrator whose AMS account is disabled (the usual answer to
// a compromised account; the roles stay) is refused at sign-in and loses a live console session
// at its next role check, not only when the 12-hour cookie runs out.
func TestDisabledAdministratorLosesConsole(t *testing.T) {
	f := newFixture(t)
	ck := f.cookie(t, f.now.Add(-time.Hour), f.now.Add(-6*time.Minute)) // roles read 6 minutes ago
	f.disabled = true
	rec := f.do("GET", "/console/", nil, ck, "")
	if rec.Code != http.StatusForbidden || !slices.Equal(f.events, []string{"console.access_revoked"}) {
		t.Fatalf("a disabled administrator kept the console: %d %v", rec.Code, f.events)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("cookie not cleared: %v", c)
	}
}
