package consumer

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ssobridge/ssobridge/wire"
)

func patchBase() wire.SCIMUser {
	active := true
	return wire.SCIMUser{Schemas: []string{wire.SchemaUser, wire.SchemaMembership}, ID: "sub-1", ExternalID: "sub-1",
		UserName: "alice", DisplayName: "Alice Smith", Name: &wire.SCIMName{Formatted: "Alice Smith", GivenName: "Alice", FamilyName: "Smith"},
		Emails: []wire.SCIMValue{{Value: "alice@example.org", Type: "work", Primary: true}},
		Active: &active, Roles: []wire.SCIMValue{{Value: "Board"}, {Value: "Member"}},
		Membership: &wire.SCIMMembership{MemberID: "101", MemberType: "REG", IsCurrent: true}}
}

// TestPatchUser: RFC 7644 3.5.2's operations as the bridge, Entra and Okta send them, and the
// errors RFC 7644 3.12 names for what this app does not support. Each case starts from alice
// (patchBase) and says what changed (want), or the scimType of the 400 (and then nothing
// changed).
func TestPatchUser(t *testing.T) {
	f, tr := false, true
	for _, tc := range []struct {
		name string
		ops  string // the Operations array
		want func(u *wire.SCIMUser)
		err  string // scimType
	}{
		// The bridge: a deactivation replacing "active" alone, the whole profile without a path.
		{"replace active", `[{"op":"replace","path":"active","value":false}]`, func(u *wire.SCIMUser) { u.Active = &f }, ""},
		{"replace without a path", `[{"op":"replace","value":{"externalId":"sub-1","userName":"alice2","displayName":"A","roles":[{"value":"Staff"}],"active":false}}]`,
			func(u *wire.SCIMUser) {
				u.UserName, u.DisplayName, u.Roles, u.Active = "alice2", "A", []wire.SCIMValue{{Value: "Staff"}}, &f
			}, ""},
		// Okta: deactivation and reactivation without a path.
		{"okta deactivate", `[{"op":"replace","value":{"active":false}}]`, func(u *wire.SCIMUser) { u.Active = &f }, ""},
		// Entra: capitalised ops, "False" as a string, a filtered email value.
		{"entra active string", `[{"op":"Replace","path":"active","value":"False"}]`, func(u *wire.SCIMUser) { u.Active = &f }, ""},
		{"entra email replace", `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@new.example"}]`,
			func(u *wire.SCIMUser) { u.Emails[0].Value = "a@new.example" }, ""},
		{"entra email add, none of the type", `[{"op":"Add","path":"emails[type eq \"home\"].value","value":"a@home.example"}]`,
			func(u *wire.SCIMUser) {
				u.Emails = append(u.Emails, wire.SCIMValue{Value: "a@home.example", Type: "home"})
			}, ""},
		{"entra name.givenName", `[{"op":"Replace","path":"name.givenName","value":"Alicia"}]`, func(u *wire.SCIMUser) { u.Name.GivenName = "Alicia" }, ""},
		{"core schema prefix", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:userName","value":"al"}]`,
			func(u *wire.SCIMUser) { u.UserName = "al" }, ""},
		{"attribute names case-insensitive", `[{"op":"replace","path":"USERNAME","value":"al"}]`, func(u *wire.SCIMUser) { u.UserName = "al" }, ""},
		{"extension attribute", `[{"op":"replace","path":"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User:memberType","value":"HON"}]`,
			func(u *wire.SCIMUser) { u.Membership.MemberType = "HON" }, ""},
		{"extension removed", `[{"op":"remove","path":"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User"}]`,
			func(u *wire.SCIMUser) { u.Membership = nil }, ""},
		{"add a role", `[{"op":"add","path":"roles","value":[{"value":"Staff"}]}]`,
			func(u *wire.SCIMUser) { u.Roles = append(u.Roles, wire.SCIMValue{Value: "Staff"}) }, ""},
		{"add a role held already", `[{"op":"add","path":"roles","value":[{"value":"Board"}]}]`, func(*wire.SCIMUser) {}, ""},
		{"remove a role by filter", `[{"op":"remove","path":"roles[value eq \"Board\"]"}]`,
			func(u *wire.SCIMUser) { u.Roles = []wire.SCIMValue{{Value: "Member"}} }, ""},
		{"replace every role", `[{"op":"replace","path":"roles","value":[]}]`, func(u *wire.SCIMUser) { u.Roles = []wire.SCIMValue{} }, ""},
		{"remove all emails", `[{"op":"remove","path":"emails"}]`, func(u *wire.SCIMUser) { u.Emails = nil }, ""},
		{"filter with and", `[{"op":"replace","path":"emails[type eq \"work\" and primary eq true].value","value":"x@y.example"}]`,
			func(u *wire.SCIMUser) { u.Emails[0].Value = "x@y.example" }, ""},
		{"add name without a path merges", `[{"op":"add","value":{"name":{"familyName":"Jones"}}}]`,
			func(u *wire.SCIMUser) { u.Name.FamilyName = "Jones" }, ""},
		{"remove unassigns", `[{"op":"remove","path":"displayName"}]`, func(u *wire.SCIMUser) { u.DisplayName = "" }, ""},
		// What the bridge sends for the attributes a member has none of (RFC 7644 3.5.2.2).
		{"remove with paths next to a replace", `[{"op":"replace","value":{"userName":"alice","active":true}},
			{"op":"remove","path":"emails"},{"op":"remove","path":"name.givenName"},{"op":"remove","path":"photos"},
			{"op":"remove","path":"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User:memberType"}]`,
			func(u *wire.SCIMUser) { u.Emails, u.Name.GivenName, u.Membership.MemberType = nil, "", "" }, ""},
		// Removed, active would be unassigned and read as active: refused (final read s18 R1-1).
		{"remove active", `[{"op":"remove","path":"active"}]`, nil, "mutability"},
		// A null in an attribute this app does not keep goes with it (final read s18 R1-3).
		{"null in an ignored attribute", `[{"op":"replace","value":{"active":true,"title":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":null}}}]`,
			func(u *wire.SCIMUser) { u.Active = &tr }, ""},
		{"null in a kept attribute without a path", `[{"op":"replace","value":{"active":true,"displayName":null}}]`, nil, "invalidValue"},
		{"unknown attributes without a path ignored", `[{"op":"replace","value":{"title":"CEO","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"},"active":true}}]`,
			func(u *wire.SCIMUser) { u.Active = &tr }, ""},
		// One primary value (RFC 7644 3.5.2, RFC 7643 2.4), emails and roles compared ignoring case
		// (caseExact false, RFC 7643 8.7.1), photos exactly (review s18 X18-6).
		{"add a primary email", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home","primary":true}]}]`,
			func(u *wire.SCIMUser) {
				u.Emails = []wire.SCIMValue{{Value: "alice@example.org", Type: "work"}, {Value: "b@example.org", Type: "home", Primary: true}}
			}, ""},
		{"entra add of a primary email by filter", `[{"op":"add","path":"emails[type eq \"home\" and primary eq true].value","value":"b@example.org"}]`,
			func(u *wire.SCIMUser) {
				u.Emails = []wire.SCIMValue{{Value: "alice@example.org", Type: "work"}, {Value: "b@example.org", Type: "home", Primary: true}}
			}, ""},
		{"primary moved by filter", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home"}]},{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
			func(u *wire.SCIMUser) {
				u.Emails = []wire.SCIMValue{{Value: "alice@example.org", Type: "work"}, {Value: "b@example.org", Type: "home", Primary: true}}
			}, ""},
		{"a value replaced by filter becomes primary", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home"}]},{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"c@example.org","type":"home","primary":true}}]`,
			func(u *wire.SCIMUser) {
				u.Emails = []wire.SCIMValue{{Value: "alice@example.org", Type: "work"}, {Value: "c@example.org", Type: "home", Primary: true}}
			}, ""},
		{"an email there already, in other case, made primary", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home"},{"value":"B@Example.ORG","type":"Home","primary":true}]}]`,
			func(u *wire.SCIMUser) {
				u.Emails = []wire.SCIMValue{{Value: "alice@example.org", Type: "work"}, {Value: "b@example.org", Type: "home", Primary: true}}
			}, ""},
		{"a non-primary add leaves the primary", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"home"}]}]`,
			func(u *wire.SCIMUser) {
				u.Emails = append(u.Emails, wire.SCIMValue{Value: "b@example.org", Type: "home"})
			}, ""},
		{"email filter ignores case", `[{"op":"replace","path":"emails[value eq \"ALICE@EXAMPLE.ORG\"].type","value":"home"}]`,
			func(u *wire.SCIMUser) { u.Emails[0].Type = "home" }, ""},
		{"role filter ignores case", `[{"op":"remove","path":"roles[value eq \"board\"]"}]`,
			func(u *wire.SCIMUser) { u.Roles = []wire.SCIMValue{{Value: "Member"}} }, ""},
		{"two primaries in one replace", `[{"op":"replace","path":"emails","value":[{"value":"a@example.org","primary":true},{"value":"b@example.org","primary":true}]}]`, nil, "invalidValue"},
		{"primary set on two values by one filter", `[{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"work"}]},{"op":"replace","path":"emails[type eq \"work\"].primary","value":true}]`, nil, "invalidValue"},
		{"photo filter is case-exact", `[{"op":"add","path":"photos","value":[{"value":"https://x.example/a.png"}]},{"op":"remove","path":"photos[value eq \"https://x.example/A.png\"]"}]`, nil, "noTarget"},
		{"an attribute named twice in different cases", `[{"op":"replace","value":{"userName":"a","USERNAME":"b"}}]`, nil, "invalidSyntax"},
		{"operations in order", `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"active","value":true}]`, func(*wire.SCIMUser) {}, ""},
		// Refused, nothing changed.
		{"unknown path", `[{"op":"replace","path":"title","value":"CEO"}]`, nil, "invalidPath"},
		{"unknown sub-attribute", `[{"op":"replace","path":"name.middleName","value":"Q"}]`, nil, "invalidPath"},
		{"unknown schema", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"x"}]`, nil, "invalidPath"},
		{"filter on a single value", `[{"op":"replace","path":"userName[value eq \"a\"]","value":"b"}]`, nil, "invalidPath"},
		{"sub-attribute without a filter", `[{"op":"replace","path":"emails.value","value":"b"}]`, nil, "invalidPath"},
		{"unsupported operator", `[{"op":"replace","path":"emails[value co \"example\"].value","value":"b"}]`, nil, "invalidFilter"},
		{"unsupported filter attribute", `[{"op":"replace","path":"emails[display eq \"x\"].value","value":"b"}]`, nil, "invalidFilter"},
		{"or", `[{"op":"remove","path":"roles[value eq \"Board\" or value eq \"Member\"]"}]`, nil, "invalidFilter"},
		{"unclosed filter", `[{"op":"remove","path":"roles[value eq \"Board\""}]`, nil, "invalidPath"},
		{"filter selects nothing (replace)", `[{"op":"replace","path":"emails[type eq \"home\"].value","value":"b"}]`, nil, "noTarget"},
		{"filter selects nothing (remove)", `[{"op":"remove","path":"roles[value eq \"Staff\"]"}]`, nil, "noTarget"},
		{"remove without a path", `[{"op":"remove"}]`, nil, "noTarget"},
		{"groups read-only", `[{"op":"add","path":"groups","value":[{"value":"g1"}]}]`, nil, "mutability"},
		{"externalId changed", `[{"op":"replace","path":"externalId","value":"sub-2"}]`, nil, "mutability"},
		// null is no value (RFC 7644 3.5.2.1, 3.5.2.3): refused wherever it is, as the bridge
		// sent it with update: patch before 5d4e11a's follow-up.
		{"null replace with a path", `[{"op":"replace","path":"displayName","value":null}]`, nil, "invalidValue"},
		{"null in a replace without a path", `[{"op":"replace","value":{"userName":"alice","emails":null}}]`, nil, "invalidValue"},
		{"null extension in a replace", `[{"op":"replace","value":{"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User":null}}]`, nil, "invalidValue"},
		{"null sub-attribute in an add", `[{"op":"add","value":{"name":{"givenName":null}}}]`, nil, "invalidValue"},
		{"null in a value list", `[{"op":"add","path":"roles","value":[null]}]`, nil, "invalidValue"},
		{"active not a boolean", `[{"op":"replace","path":"active","value":"maybe"}]`, nil, "invalidValue"},
		{"userName not a string", `[{"op":"replace","path":"userName","value":7}]`, nil, "invalidValue"},
		{"unknown op", `[{"op":"move","path":"userName","value":"x"}]`, nil, "invalidSyntax"},
		{"no operations", `[]`, nil, "invalidSyntax"},
		{"a later operation fails: none applied", `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"title","value":"x"}]`, nil, "invalidPath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ops []patchOp
			if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
				t.Fatal(err)
			}
			u := patchBase()
			err := patchUser(&u, ops)
			want := patchBase()
			if tc.want != nil {
				tc.want(&want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || err.scimType != tc.err):
				t.Fatalf("error %v, want scimType %s", err, tc.err)
			}
			if !reflect.DeepEqual(u, want) {
				g, _ := json.Marshal(u)
				w, _ := json.Marshal(want)
				t.Errorf("user\n %s\nwant\n %s", g, w)
			}
		})
	}
}

// FuzzPatchUser: any Operations array either applies (the result a resource with alice's
// externalId and a userName) or is refused with one of RFC 7644 3.12's scimTypes and leaves the
// user as it was; nothing panics.
func FuzzPatchUser(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"active","value":false}]`,
		`[{"op":"Add","path":"emails[type eq \"home\"].value","value":"a@home.example"}]`,
		`[{"op":"remove","path":"roles[value eq \"Board\" and type eq \"x\"]"}]`,
		`[{"op":"replace","value":{"name":{"givenName":null},"roles":"x"}}]`,
		`[{"op":"replace","path":"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User:isCurrent","value":"True"}]`,
		`[{"op":"replace","path":"emails[primary eq true].primary","value":false}]`,
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{"invalidPath": true, "invalidFilter": true, "noTarget": true, "invalidValue": true,
		"mutability": true, "invalidSyntax": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ops []patchOp
		if json.Unmarshal(b, &ops) != nil {
			return
		}
		u := patchBase()
		err := patchUser(&u, ops)
		if err != nil {
			if !known[err.scimType] {
				t.Fatalf("scimType %q", err.scimType)
			}
			if !reflect.DeepEqual(u, patchBase()) {
				t.Fatal("a refused PATCH changed the user")
			}
			return
		}
		if u.ExternalID != "sub-1" || u.UserName == "" {
			t.Fatalf("patched into %+v", u)
		}
		if _, err := json.Marshal(u); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzGroupPatch: any Operations array of a group PATCH is read into membership changes or
// refused with one of RFC 7644 3.12's scimTypes; a removal selected by a filter is strict
// (noTarget when it selects nobody), and nothing panics.
func FuzzGroupPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
		`[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
		`[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]`,
		`[{"op":"replace","value":{"displayName":"Board","members":[{"value":"u2"}]}}]`,
		`[{"op":"replace","path":"displayName","value":"Other"}]`,
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{"invalidPath": true, "invalidFilter": true, "noTarget": true, "invalidValue": true,
		"mutability": true, "invalidSyntax": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ops []patchOp
		if json.Unmarshal(b, &ops) != nil {
			return
		}
		changes, _, err := groupPatch("Board", ops)
		if err != nil {
			if !known[err.scimType] {
				t.Fatalf("scimType %q", err.scimType)
			}
			return
		}
		for _, c := range changes {
			if c.strict && c.add {
				t.Fatalf("a strict add: %+v", c)
			}
		}
	})
}
