package proxies

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

// css is shorthand for a CSS selector.
type css = chromedp.CSS

// staffRoles are the roles every app must receive for the staff member: the demo AMS's live
// roles for a sign-in (rpharness.Bridge.LiveRoles), which must include the staff roles the
// README names and not the Member role marked for delete.
func staffRoles(t *testing.T, b *rpharness.Bridge) []string {
	t.Helper()
	roles := b.LiveRoles(t, rpharness.StaffLogin)
	for _, r := range []string{"SysAdmin", "RemoteService", "Content Administrator"} {
		if !slices.Contains(roles, r) {
			t.Fatalf("the demo AMS's live roles for staff %q lack %s", roles, r)
		}
	}
	if slices.Contains(roles, "Member") {
		t.Fatalf("the demo AMS's live roles for staff %q include Member, marked for delete", roles)
	}
	return roles
}
