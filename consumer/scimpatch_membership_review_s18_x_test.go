package consumer

import (
	"encoding/json"
	"testing"

	"github.com/ssobridge/ssobridge/wire"
)

// TestPatchWithoutPathKeepsMembership (review s18): the bridge's own "update: patch" delivery
// (bridge/outbox/scim patchValue) is one replace without a path whose value carries the
// membership extension under its URN as RFC 7643 3.3 spells it (…:membership:1.0:User, a
// capital U); RFC 7643 2.1 makes the names case-insensitive. A lapsed membership (isCurrent
// false, a new paidThrough) sent so must reach the app, whatever the URN's case.
func TestPatchWithoutPathKeepsMembership(t *testing.T) {
	for _, key := range []string{wire.SchemaMembership, "urn:ssobridge:params:scim:schemas:extension:membership:1.0:user"} {
		t.Run(key, func(t *testing.T) {
			u := patchBase()
			val := map[string]any{"externalId": "sub-1", "userName": "alice", "active": true,
				key: map[string]any{"memberId": "101", "memberType": "REG", "isCurrent": false, "paidThrough": "2026-01-01"}}
			b, _ := json.Marshal(val)
			if err := patchUser(&u, []patchOp{{Op: "replace", Value: b}}); err != nil {
				t.Fatalf("patch: %v", err)
			}
			if u.Membership == nil || u.Membership.IsCurrent || u.Membership.PaidThrough != "2026-01-01" {
				t.Fatalf("membership after a replace without a path naming it %s: %+v, want isCurrent false, paidThrough 2026-01-01", key, u.Membership)
			}
		})
	}
}
