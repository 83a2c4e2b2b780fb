package policy

import (
	"testing"

	"github.com/ssobridge/ssobridge/legacy"

	"github.com/ssobridge/ssobridge/sso"
)

// BenchmarkClaims measures one Claims call with the usual scopes: for a client without a
// policy, and for one with renames, a role filter, a namespace object and two computed claims.
func BenchmarkClaims(b *testing.B) {
	e := fixtureEngine(b)
	m := ada()
	scopes := []string{"openid", "profile", "email", "offline_access", "membership", "roles"}
	for _, client := range []string{"no-policy", "portal"} {
		b.Run(client, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Claims(m, "sub-1", client, scopes, sso.TargetUserinfo, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimsRefresh is the Claims call of a refresh grant's ID token: openid and
// offline_access (the userinfo scopes are left to userinfo when an access token comes along).
func BenchmarkClaimsRefresh(b *testing.B) {
	e := fixtureEngine(b)
	m := ada()
	scopes := []string{"openid", "offline_access"}
	for _, client := range []string{"no-policy", "portal"} {
		b.Run(client, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Claims(m, "sub-1", client, scopes, sso.TargetIDToken, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccessRule measures Allowed for portal's `member.is_current || "Staff" in
// member.roles`: a current member (short-circuits) and a lapsed one (searches the roles).
func BenchmarkAccessRule(b *testing.B) {
	e := fixtureEngine(b)
	for _, bc := range []struct {
		name string
		m    *legacy.Member
	}{{"current", ada()}, {"lapsed", lapsed()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Allowed(bc.m, "sub-1", "portal", testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
