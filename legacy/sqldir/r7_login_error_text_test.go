package sqldir_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestR7AmbiguousLoginErrorQuotesNoLogin (review s28 R7-3): the look-up of a typed login that
// matches several members answers legacy.ErrNotFound, and its error text quoted the login.
// The bridge looks up the typed login of every failed sign-in (to count it against the
// member): that error is the failed attempt's typed login, which is never to be logged. No
// caller logs an ErrNotFound's text today, but the admin API and the console's claims
// preview return it in their error paths: the text must not carry it, as the log line beside
// it does not (TestAmbiguousLoginIsRefused).
func TestR7AmbiguousLoginErrorQuotesNoLogin(t *testing.T) {
	q := imis.PresetIMISSQLite()[sqldir.QueryMemberByLogin]
	dup := strings.Replace(q, "AND au.LoweredUserName = ?1", "AND (au.LoweredUserName = ?1 OR au.LoweredUserName IN ('alice', 'staff'))", 1)
	if dup == q {
		t.Fatal("member_by_login not edited")
	}
	d := withQueries(t, map[string]string{sqldir.QueryMemberByLogin: dup})
	for _, typed := range []string{"Alice", "  alice-typed-in-the-wrong-field "} {
		_, err := d.MemberByLogin(ctx, typed)
		if !errors.Is(err, legacy.ErrNotFound) {
			t.Fatalf("MemberByLogin(%q): %v; want ErrNotFound", typed, err)
		}
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimSpace(typed))) {
			t.Errorf("MemberByLogin(%q)'s error quotes the typed login: %v", typed, err)
		}
	}
}
