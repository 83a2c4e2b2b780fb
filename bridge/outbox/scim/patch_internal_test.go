package scim

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/wire"
)

// TestPatchOps: with update: patch, the attributes a member has none of are removed with a
// path (RFC 7644 3.5.2.2), never sent as null in the replace (3.5.2.3 defines no null; servers
// that validate values answer 400). The membership extension is never named for an app that
// does not receive it, not even removed; for one that does, its empty attributes are removed
// one by one (urn:…:User:attr), as are a name's. Fails with the null-valued replace of 5d4e11a.
func TestPatchOps(t *testing.T) {
	const ext = wire.SchemaMembership + ":"
	for _, tc := range []struct {
		name   string
		user   wire.User
		remove []string
	}{
		{"nothing but the login", wire.User{Subject: "s", Login: "alice", Active: true},
			[]string{"name", "displayName", "emails", "photos"}},
		{"everything", wire.User{Subject: "s", Login: "alice", Active: true, Email: "a@example.org", Name: "A B", GivenName: "A",
			FamilyName: "B", Picture: "https://p.example/a.png", Roles: []string{"Member"}}, nil},
		{"a name without a given name", wire.User{Subject: "s", Login: "alice", Name: "B", FamilyName: "B", Email: "a@example.org"},
			[]string{"name.givenName", "photos"}},
		{"membership with some attributes", wire.User{Subject: "s", Login: "alice", Active: true, Email: "a@example.org", Name: "A",
			Picture: "https://p.example/a.png", Membership: &wire.Membership{MemberID: "101", Standing: "current", IsCurrent: true}},
			[]string{"name.givenName", "name.familyName", ext + "memberType", ext + "contactStatus", ext + "membershipStatus",
				ext + "company", ext + "joinDate", ext + "paidThrough"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := patchOps(wire.SCIMUserOf(tc.user))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ops)
			if strings.Contains(string(b), "null") {
				t.Errorf("a null in the operations: %s", b)
			}
			if tc.user.Membership == nil && strings.Contains(string(b), "urn:ssobridge") {
				t.Errorf("the membership extension named for an app that does not receive it: %s", b)
			}
			if len(ops) == 0 || ops[0]["op"] != "replace" || ops[0]["path"] != nil {
				t.Fatalf("first operation %v, want a replace without a path", ops)
			}
			var removed []string
			for _, op := range ops[1:] {
				if op["op"] != "remove" || op["value"] != nil {
					t.Fatalf("operation %v, want a remove without a value", op)
				}
				p, _ := op["path"].(string)
				if _, named := ops[0]["value"].(map[string]any)[p]; named {
					t.Errorf("%s both replaced and removed", p)
				}
				removed = append(removed, p)
			}
			if !slices.Equal(removed, tc.remove) {
				t.Errorf("removed %q, want %q", removed, tc.remove)
			}
		})
	}
}

// TestAbsentPathsCoverSCIMUser: every omitempty attribute of wire.SCIMUser, and of its complex
// attributes, is removed when empty unless notCleared names it, so that an attribute added to
// the resource later is cleared at the app too (it is derived from the tags, not listed).
func TestAbsentPathsCoverSCIMUser(t *testing.T) {
	empty := map[string]bool{}
	for _, p := range absentPaths(wire.SCIMUser{Name: &wire.SCIMName{}, Membership: &wire.SCIMMembership{}}) {
		empty[p] = true
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			ft := typ.Field(i).Type
			switch {
			case prefix == "" && notCleared[name]:
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				sep := "."
				if strings.HasPrefix(name, "urn:") {
					sep = ":"
				}
				walk(prefix+name+sep, ft.Elem())
			case strings.Contains(opts, "omitempty") && !empty[prefix+name]:
				t.Errorf("%s%s (omitempty) is not removed when empty", prefix, name)
			}
		}
	}
	walk("", reflect.TypeFor[wire.SCIMUser]())
	if len(empty) != 14 {
		t.Errorf("absent paths of an empty user: %d %v", len(empty), empty)
	}
}
