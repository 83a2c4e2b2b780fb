package sso

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzIDTokenShaped: whatever arrives as id_token_hint, the shape check does not panic, and a
// hint it keeps is three segments whose header's typ is JWT or absent and whose claims have
// sub, aud, exp and iat and no events.
func FuzzIDTokenShaped(f *testing.F) {
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	id := map[string]any{"sub": "a", "aud": "web", "exp": 2, "iat": 1}
	for _, s := range []string{
		seg(map[string]any{"typ": "JWT", "alg": "RS256"}) + "." + seg(id) + ".sig",
		seg(map[string]any{"typ": "at+jwt"}) + "." + seg(id) + ".sig",
		seg(map[string]any{"alg": "ES256"}) + "." + seg(map[string]any{"sub": "a", "events": map[string]any{}}) + ".",
		"a.b.c", "", "..", "e30.e30.e30.e30.e30", seg(map[string]any{"typ": 7}) + "." + seg(id) + ".x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !idTokenShaped(raw) {
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("kept %q: not three segments", raw)
		}
		var header map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(b, &header); err != nil {
			t.Fatalf("kept %q: header %v", raw, err)
		}
		if typ, ok := header["typ"]; ok {
			if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
				t.Fatalf("kept %q: typ %v", raw, typ)
			}
		}
	})
}
