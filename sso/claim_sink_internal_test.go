package sso

import (
	"maps"
	"reflect"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestClaimSinkAsApplyClaims: claims written one at a time into a ClaimSink (String for string
// values, Value for the rest, later writes replacing earlier ones) and copied into a userinfo
// (ApplyTo) leave it as applyClaims leaves it for the map of their last values: typed fields, sub left out,
// email_verified always an extra claim (false unless true), a typed claim that is not a string
// empty, everything else an extra claim.
func TestClaimSinkAsApplyClaims(t *testing.T) {
	type write struct {
		name string
		v    any
	}
	for _, tc := range []struct {
		name   string
		writes []write
	}{
		{"none", nil},
		{"typed", []write{{"name", "Ada Lovelace"}, {"given_name", "Ada"}, {"family_name", "Lovelace"},
			{"preferred_username", "ada"}, {"email", "ada@example.org"}, {"picture", "https://example.org/a.png"}}},
		{"sub left out", []write{{"sub", "someone-else"}, {"name", "Ada"}}},
		{"email_verified", []write{{"email", "a@example.org"}, {"email_verified", true}}},
		{"email_verified false", []write{{"email_verified", false}}},
		{"email_verified a string", []write{{"email_verified", "yes"}}},
		{"typed not a string", []write{{"name", 42}, {"email", []string{"x"}}}},
		{"extra", []write{{"updated_at", int64(1700000000)}, {"roles", []string{"Member"}}, {"chapter", "North"},
			{"https://example.org/ns", map[string]any{"member_id": "1"}}}},
		{"written again", []write{{"name", "A"}, {"name", "B"}, {"title", "Dr"}, {"title", 7}, {"family_name", "X"}, {"family_name", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := map[string]any{}
			var got oidc.UserInfo
			var sink ClaimSink
			for _, w := range tc.writes {
				claims[w.name] = w.v
				if s, ok := w.v.(string); ok {
					sink.String(w.name, s)
				} else {
					sink.Value(w.name, w.v)
				}
			}
			sink.ApplyTo(&got)
			var want oidc.UserInfo
			applyClaims(&want, maps.Clone(claims))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ClaimSink %+v\napplyClaims %+v", got, want)
			}
			// A userinfo with extra claims already: both add to them.
			got2 := oidc.UserInfo{Claims: map[string]any{"kept": 1}}
			want2 := oidc.UserInfo{Claims: map[string]any{"kept": 1}}
			sink = ClaimSink{}
			for _, w := range tc.writes {
				sink.Value(w.name, w.v)
			}
			sink.ApplyTo(&got2)
			var fromMap ClaimSink
			fromMap.Claims(maps.Clone(claims))
			fromMap.ApplyTo(&want2)
			if !reflect.DeepEqual(got2, want2) {
				t.Errorf("onto extra claims: ClaimSink %+v\napplyClaims %+v", got2, want2)
			}
		})
	}
}
