package consumer

import (
	"encoding/json"
	"testing"

	"github.com/ssobridge/ssobridge/wire"
)

// TestPatchPrimaryAndCaseInsensitiveFilters (review s18 X18-6), RFC 7644 3.5.2 and RFC 7643:
//   - "a PATCH operation that sets a value's primary sub-attribute to true SHALL cause the
//     server to automatically set primary to false for any other values in the array"
//     (RFC 7644 3.5.2; RFC 7643 2.4: primary true appears no more than once). The consumer
//     keeps both primaries, and the member's email it stores (SCIMUser.User: the first value)
//     stays the old one: the new primary address is dropped.
//   - emails.value and emails.type are caseExact false (RFC 7643 8.7.1), so a filter's eq
//     compares them ignoring case (RFC 7644 3.4.2.2); the consumer answers noTarget.
func TestPatchPrimaryAndCaseInsensitiveFilters(t *testing.T) {
	patch := func(t *testing.T, ops string) wire.SCIMUser {
		t.Helper()
		u := patchBase()
		var o []patchOp
		if err := json.Unmarshal([]byte(ops), &o); err != nil {
			t.Fatal(err)
		}
		if err := patchUser(&u, o); err != nil {
			t.Fatalf("%s: %v", ops, err)
		}
		return u
	}
	t.Run("a new primary email", func(t *testing.T) {
		u := patch(t, `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home","primary":true}]}]`)
		n := 0
		for _, e := range u.Emails {
			if e.Primary {
				n++
			}
		}
		if n != 1 || u.User().Email != "b@example.org" {
			t.Fatalf("after adding a primary email: %d primary values %+v, stored email %q; want one primary and b@example.org", n, u.Emails, u.User().Email)
		}
	})
	for _, path := range []string{`emails[value eq \"ALICE@EXAMPLE.ORG\"].type`, `emails[type eq \"Work\"].type`} {
		t.Run(path, func(t *testing.T) {
			u := patch(t, `[{"op":"replace","path":"`+path+`","value":"home"}]`)
			if u.Emails[0].Type != "home" {
				t.Fatalf("%s: %+v", path, u.Emails)
			}
		})
	}
}
