package policy

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
)

// FuzzClaims feeds random scope lists (space-separated, with duplicates, unknown and odd
// scopes) to every client and target of the fixture: Claims must not panic, and must never
// return a claim that no granted scope releases.
func FuzzClaims(f *testing.F) {
	f.Add("openid profile email", uint8(0), uint8(0))
	f.Add("membership roles membership", uint8(1), uint8(2))
	f.Add("chapter address bogus", uint8(2), uint8(1))
	f.Add("", uint8(3), uint8(0))
	f.Add("roles\x00 openid", uint8(4), uint8(2))
	f.Add("offline_access phone  MEMBERSHIP Roles", uint8(0), uint8(1))
	e := fixtureEngine(f)
	members := []*legacy.Member{ada(), lapsed(), sparse()}
	f.Fuzz(func(t *testing.T, raw string, client, target uint8) {
		scopes := strings.Split(raw, " ")
		clientID := fixtureClients[int(client)%len(fixtureClients)]
		tg := allTargets3[int(target)%len(allTargets3)]
		m := members[int(client/8)%len(members)]
		c, err := e.Claims(m, "sub", clientID, scopes, tg, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := ungranted(clientID, scopes, tg, c); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Allowed(m, "sub", clientID, testNow); err != nil {
			t.Fatal(err)
		}
		_ = e.DescribeScopes(clientID, scopes)
	})
}
