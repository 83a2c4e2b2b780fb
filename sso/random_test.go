package sso_test

import (
	"encoding/base64"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestRandomToken pins the token's form (43 base64url characters, 256 random bits, never the
// same twice) and its one allocation (the string; budget 1).
func TestRandomToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := sso.RandomToken()
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if len(tok) != 43 || err != nil || len(b) != 32 || seen[tok] {
			t.Fatalf("token %q (%v)", tok, err)
		}
		seen[tok] = true
	}
	if n := testing.AllocsPerRun(100, func() { _ = sso.RandomToken() }); n > 1 {
		t.Fatalf("RandomToken: %v allocations, budget 1", n)
	}
}
