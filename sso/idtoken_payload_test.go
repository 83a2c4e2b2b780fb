package sso

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestIDTokenPayloadMatchesLibrary: the ID token's claims encoded without the generic map
// round trip decode to what oidc.IDTokenClaims.MarshalJSON writes (registered claims win over an
// extra claim of the same name; a nested name such as address.country does not hide an extra).
func TestIDTokenPayloadMatchesLibrary(t *testing.T) {
	base := func() *oidc.IDTokenClaims {
		c := oidc.NewIDTokenClaims("https://idp.example", "m-1", []string{"web"},
			time.Unix(1_800_000_000, 0), time.Unix(1_700_000_000, 0), "n\"once", "", []string{"pwd"}, "web", 0)
		c.ClientID = ""
		return c
	}
	tests := []struct {
		name string
		mod  func(c *oidc.IDTokenClaims)
	}{
		{"no extra claims", func(c *oidc.IDTokenClaims) {}},
		{"extra claims", func(c *oidc.IDTokenClaims) {
			c.Claims = map[string]any{"groups": []string{"a", "b"}, "member_type": "REG", "n": 3, "obj": map[string]any{"sub": "x"}}
		}},
		{"registered wins", func(c *oidc.IDTokenClaims) {
			c.Email = "a@example.org"
			c.Claims = map[string]any{"email": "spoof@example.org", "sub": "other", "iss": "x"}
		}},
		{"empty registered field leaves the extra", func(c *oidc.IDTokenClaims) {
			c.Claims = map[string]any{"email": "extra@example.org", "name": "Al \"Q\" {x}"}
		}},
		{"nested names do not hide extras", func(c *oidc.IDTokenClaims) {
			c.Address = &oidc.UserInfoAddress{Country: "NZ", Locality: "a\\\"b:"}
			c.Claims = map[string]any{"country": "extra", "locality": "extra"}
		}},
		{"only extras", func(c *oidc.IDTokenClaims) {
			*c = oidc.IDTokenClaims{Claims: map[string]any{"a": 1}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(c)
			want, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := idTokenPayloadHashes(nil, c, idHashes{})
			if err != nil {
				t.Fatal(err)
			}
			var w, g map[string]any
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			// at_hash and sid given as bytes (the token endpoint's way) write the same
			// payload byte for byte as the claims' strings, an extra claim of their name
			// included (the registered one wins).
			for _, extra := range []map[string]any{nil, {"sid": "extra", "at_hash": "extra", "zz": "z"}} {
				withStrings, withBytes := base(), base()
				tc.mod(withStrings)
				tc.mod(withBytes)
				if extra != nil {
					withStrings.Claims, withBytes.Claims = maps.Clone(extra), maps.Clone(extra)
				}
				withStrings.AccessTokenHash, withStrings.SessionID = "aT-h_sh", "s1d-_x"
				want, err := idTokenPayloadHashes(nil, withStrings, idHashes{})
				if err != nil {
					t.Fatal(err)
				}
				got, err := idTokenPayloadHashes(nil, withBytes, idHashes{atHash: []byte("aT-h_sh"), sid: []byte("s1d-_x")})
				if err != nil || string(got) != string(want) {
					t.Fatalf("with hashes as bytes: %s (%v)\nwant %s", got, err, want)
				}
			}
		})
	}
}

// TestAppendClaimValueMatchesEncoder: an extra claim's value is written byte for byte as
// encoding/json writes it, the values written directly (strings, booleans, integers) and the
// rest.
func TestAppendClaimValueMatchesEncoder(t *testing.T) {
	for _, v := range []any{
		"", "a\"b<c>&\u2028", true, false,
		int64(0), int64(1796417026), int64(-5), int64(math.MaxInt64), int64(math.MinInt64),
		0, 42, -42, math.MaxInt, 1.5, []string{"a"}, map[string]any{"x": 1}, nil,
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendClaimValue([]byte("x"), v)
		if err != nil || string(got) != "x"+string(want) {
			t.Errorf("%T %v: got %s (%v), want x%s", v, v, got, err, want)
		}
	}
}
