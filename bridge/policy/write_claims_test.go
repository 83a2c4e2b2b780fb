package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// TestWriteClaimsAsClaims: for every fixture client, every combination of the scopes, every
// target and members full and sparse, WriteClaims writes into a userinfo exactly what Claims'
// map gives it (sso.ClaimSink.Claims, the provider's own copy of a map): the two are one policy.
func TestWriteClaimsAsClaims(t *testing.T) {
	e := fixtureEngine(t)
	for _, m := range []*legacy.Member{ada(), lapsed(), sparse()} {
		for _, client := range fixtureClients {
			for set := 0; set < 1<<len(everyScope); set++ {
				var scopes []string
				for i, sc := range everyScope {
					if set&(1<<i) != 0 {
						scopes = append(scopes, sc)
					}
				}
				for _, target := range allTargets3 {
					claims, err := e.Claims(m, "sub-1", client, scopes, target, testNow)
					if err != nil {
						t.Fatal(err)
					}
					var want, got oidc.UserInfo
					var fromMap, written sso.ClaimSink
					fromMap.Claims(claims)
					fromMap.ApplyTo(&want)
					if err := e.WriteClaims(m, "sub-1", client, scopes, target, testNow, &written); err != nil {
						t.Fatal(err)
					}
					written.ApplyTo(&got)
					if !reflect.DeepEqual(got, want) {
						g, _ := json.Marshal(&got)
						w, _ := json.Marshal(&want)
						t.Fatalf("%s %s %q %s:\nWriteClaims %s\nClaims      %s", m.Login, client, scopes, target, g, w)
					}
				}
			}
		}
	}
	if err := e.WriteClaims(nil, "sub-1", "portal", nil, sso.TargetIDToken, testNow, &sso.ClaimSink{}); err == nil {
		t.Error("WriteClaims of no member: no error")
	}
	if err := e.WriteClaims(ada(), "sub-1", "portal", nil, "elsewhere", testNow, &sso.ClaimSink{}); err == nil {
		t.Error("WriteClaims for an unknown target: no error")
	}
}

// TestWriteClaimsAllocations: the ID token claims of a refresh with the load runs' scopes (openid,
// profile, offline_access) written into the provider's sink allocate the call, the extra claims'
// map and updated_at's box (an extra claim) only. Claims and the provider's copy of its map
// allocated 9: the map and a box for each of the five string claims (name, given_name,
// family_name, preferred_username, picture) besides.
func TestWriteClaimsAllocations(t *testing.T) {
	e := fixtureEngine(t)
	m := ada()
	scopes := []string{"openid", "profile", "offline_access"}
	sink, ui := new(sso.ClaimSink), new(oidc.UserInfo)
	write := func() {
		*sink, *ui = sso.ClaimSink{}, oidc.UserInfo{}
		if err := e.WriteClaims(m, "sub-1", "no-policy", scopes, sso.TargetIDToken, testNow, sink); err != nil {
			t.Fatal(err)
		}
		sink.ApplyTo(ui)
		if ui.Name != "Ada Lovelace" || ui.PreferredUsername != "ada" || len(ui.Claims) != 1 {
			t.Fatalf("written: %+v", ui)
		}
	}
	const budget = 4 // the call, the extra claims' map (its header and group) and updated_at's box
	if n := testing.AllocsPerRun(50, write); n > budget {
		t.Errorf("WriteClaims allocates %.0f objects, budget %d", n, budget)
	}
}
